"""The API and the workers say which Redis they use and whether it can lose acknowledged work;
production refuses a Redis that can, unless ACCEPT_NON_DURABLE_REDIS=true. Real redis-servers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from starlette.testclient import TestClient

from redis_durability import check_at_startup, public_url, read
from scripts.local_redis import LocalRedis
from settings import Settings
from tests.harness import ROOT

DURABLE_LINE = "appendonly=yes appendfsync=everysec maxmemory-policy=noeviction (durable)"


def _server(tmp_path: Path, **options: object) -> Iterator[LocalRedis]:
    server = LocalRedis(tmp_path, **options).start()  # type: ignore[arg-type]
    yield server
    server.stop()


@pytest.fixture
def durable(tmp_path: Path) -> Iterator[LocalRedis]:
    yield from _server(tmp_path / "aof", append_only=True)


@pytest.fixture
def without_aof(tmp_path: Path) -> Iterator[LocalRedis]:
    yield from _server(tmp_path / "plain", append_only=False)


def _settings(url: str, environment: str = "production", **extra: object) -> Settings:
    return Settings(
        _env_file=None,
        environment=environment,  # type: ignore[arg-type]
        redis_url=url,
        gateway_secret_key="k" * 40,
        regos_oauth_client_secret="secret",
        flower_basic_auth="admin:pw",
        **extra,  # type: ignore[arg-type]
    )


def test_durable_redis_is_one_line(durable: LocalRedis, capsys: pytest.CaptureFixture[str]) -> None:
    check_at_startup(_settings(durable.url), "api")
    assert capsys.readouterr().err == f"redis: {durable.url} {DURABLE_LINE}\n"


def test_no_aof_is_a_loud_warning_in_development(without_aof: LocalRedis, capsys: pytest.CaptureFixture[str]) -> None:
    durability = check_at_startup(_settings(without_aof.url, "development"), "worker")
    err = capsys.readouterr().err
    assert err.startswith(f"redis: {without_aof.url} appendonly=no appendfsync=everysec maxmemory-policy=noeviction")
    assert "(NOT durable)" in err and "WARNING" in err and "a Redis restart loses every queued task" in err
    assert durability.problems


def test_no_aof_refuses_production_unless_accepted(without_aof: LocalRedis, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        check_at_startup(_settings(without_aof.url), "api")
    assert stopped.value.code == 2
    assert "ACCEPT_NON_DURABLE_REDIS=true" in capsys.readouterr().err
    check_at_startup(_settings(without_aof.url, accept_non_durable_redis=True), "api")  # the risk, accepted


def test_an_evicting_policy_is_not_durable(durable: LocalRedis) -> None:
    redis.Redis.from_url(durable.url).config_set("maxmemory-policy", "allkeys-lru")
    durability = read(durable.url)
    assert durability.verdict == "NOT durable"
    assert durability.problems == ["maxmemory-policy is allkeys-lru: under memory pressure Redis drops queued work"]
    with pytest.raises(SystemExit):
        check_at_startup(_settings(durable.url), "worker")


def test_config_disabled_is_unknown_and_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Managed Redis often disables CONFIG; the gateway cannot tell, so it says so and starts.
    for server in _server(tmp_path, append_only=True, extra_args=("--rename-command", "CONFIG", "")):
        check_at_startup(_settings(server.url), "api")
        err = capsys.readouterr().err
        assert "appendonly=unknown appendfsync=unknown maxmemory-policy=unknown (unknown)" in err
        assert "WARNING CONFIG GET is not allowed" in err


def test_the_password_never_appears() -> None:
    assert public_url("redis://user:s3cret@redis.internal:6380/0") == "redis://user:***@redis.internal:6380/0"
    assert public_url("rediss://:s3cret@host/1") == "rediss://:***@host/1"


def test_ready_reports_durability_and_fails_when_redis_loses_it(durable: LocalRedis) -> None:
    from api.app import create_app

    with TestClient(create_app(_settings(durable.url))) as client:
        answer = client.get("/ready")
        assert answer.status_code == 200
        assert answer.json()["result"]["durability"]["durable"] is True
        # Redis reconfigured (or restarted without its AOF) behind a running API.
        redis.Redis.from_url(durable.url).config_set("appendonly", "no")
        answer = client.get("/ready")
        assert answer.status_code == 503
        assert "appendonly is off" in answer.json()["result"]["description"]


def test_real_entry_points_refuse_a_non_durable_redis_in_production(without_aof: LocalRedis) -> None:
    env = {
        **os.environ,
        "ENVIRONMENT": "production",
        "REDIS_URL": without_aof.url,
        "GATEWAY_SECRET_KEY": "k" * 40,
        "REGOS_OAUTH_CLIENT_SECRET": "secret",
        "FLOWER_BASIC_AUTH": "admin:pw",
    }
    commands = {
        "api": [sys.executable, "-m", "uvicorn", "api.app:app", "--port", "0"],
        "worker": [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "--without-mingle"],
    }
    for name, command in commands.items():
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stdout + done.stderr
        assert f"redis: {without_aof.url} appendonly=no" in done.stderr
        assert f"{name}: refusing to start in production" in done.stderr
        assert "Traceback" not in done.stderr
