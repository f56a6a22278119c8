"""A newcomer copies .env.example to .env: every entry point names each missing setting in one
line, all at once, with the fix, and exits with code 2 — no traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from settings import Settings, configuration_problems
from tests.harness import ROOT

MISSING = ("GATEWAY_SECRET_KEY", "REGOS_OAUTH_CLIENT_SECRET", "FLOWER_BASIC_AUTH")
ENTRY_POINTS = {
    "uvicorn": [sys.executable, "-m", "uvicorn", "api.app:app", "--port", "0"],
    "celery worker": [sys.executable, "-m", "celery", "-A", "workers.app", "worker"],
    "flower": [sys.executable, "-m", "celery", "-A", "workers.app", "flower", "--port=0"],
    "python -m workers.replay": [sys.executable, "-m", "workers.replay", "--dry-run"],
}


@pytest.fixture(scope="module")
def fresh_deploy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A directory holding only `.env` copied from .env.example, as the README's first step says."""
    directory = tmp_path_factory.mktemp("deploy")
    shutil.copy(ROOT / ".env.example", directory / ".env")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGOS_", "GATEWAY_", "FLOWER_", "ENVIRONMENT"))}
    env["PYTHONPATH"] = str(ROOT)
    return directory, env


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_env_example_as_is_fails_clearly(entry_point: str, fresh_deploy: tuple[Path, dict[str, str]]) -> None:
    directory, env = fresh_deploy
    done = subprocess.run(ENTRY_POINTS[entry_point], cwd=directory, env=env, capture_output=True, text=True, timeout=60)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output, output
    errors = [line for line in done.stderr.splitlines() if line.startswith("configuration error: ")]
    assert len(errors) == len(MISSING), output  # all at once, one line each
    for variable, line in zip(MISSING, errors, strict=True):
        assert line.startswith(f"configuration error: {variable} ")
    assert "token_urlsafe" in errors[0]  # how to make a key


def test_field_errors_name_the_variable_never_the_value() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None, worker_concurrency="many", redis_url=["not", "a", "url"], log_level="INFO")  # type: ignore[arg-type]
    problems = configuration_problems(caught.value)
    assert [p.split(":")[0] for p in problems] == ["REDIS_URL", "WORKER_CONCURRENCY"]
    assert not any("many" in p for p in problems)


def test_a_valid_production_configuration_starts() -> None:
    settings = Settings(
        _env_file=None,
        environment="production",
        gateway_secret_key="k" * 40,
        regos_oauth_client_secret="secret",
        flower_basic_auth="admin:pw",
    )
    assert settings.environment == "production"
