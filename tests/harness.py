"""The end-to-end stack for tests: private Redis, fakes over HTTP, a real Celery worker, the API.

Nothing of the project's own code is mocked: the API is the real ASGI app (driven in-process
by Starlette's TestClient), the worker is a real `celery -A workers.app worker` subprocess,
and REGOS and the providers are real HTTP servers on 127.0.0.1.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import redis
from starlette.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
OPERATOR_TOKEN = "test-operator-token"
SECRET_KEY = "test-gateway-secret-key-0123456789abcdef"
FINAL = {"SUCCESS", "FAILURE", "REVOKED"}


def stack_env(redis_url: str, fakes: dict[str, Any], **overrides: str) -> dict[str, str]:
    """Environment of every process of the test stack; production defaults unless named here."""
    regos = fakes["regos"]
    env = {
        "ENVIRONMENT": "test",
        "REDIS_URL": redis_url,
        "REGOS_INTEGRATION_URL": regos.url,
        "REGOS_OAUTH_TOKEN_URL": regos.url + "/oauth/token",
        "REGOS_OAUTH_CLIENT_ID": regos.client_id,
        "REGOS_OAUTH_CLIENT_SECRET": regos.client_secret,
        "GATEWAY_SECRET_KEY": SECRET_KEY,
        "OPERATOR_TOKEN": OPERATOR_TOKEN,
        # Telegram takes only https webhooks on 443/80/88/8443 (Connect checks); nothing calls it.
        "PUBLIC_BASE_URL": "https://gateway.example:8443",
        "LOG_LEVEL": "INFO",
        # Shortened for tests (production defaults: 60 s visibility, 1 s/40 s backoff).
        "VISIBILITY_TIMEOUT_SECONDS": "12",
        "TASK_TIME_LIMIT_SECONDS": "10",
        "RETRY_BACKOFF_BASE_SECONDS": "0.2",
        "RETRY_BACKOFF_MAX_SECONDS": "1.0",
        "REGOS_RATE_LIMIT_PER_SECOND": "1000",
        "REGOS_RATE_LIMIT_BURST": "1000",
        "WORKER_CONCURRENCY": "16",
        "REGOS_TIMEOUT_SECONDS": "2",
        "PROVIDER_TIMEOUT_SECONDS": "3",
    }
    for fake in fakes.values():  # each fake names the variable that points the gateway at it
        if fake.base_url_env:
            env[fake.base_url_env] = fake.base_url
    env.update(overrides)
    return env


def worker_command(name: str, queues: str | None = None, include: tuple[str, ...] = ()) -> list[str]:
    """`celery -A workers.app worker` as tests and benchmarks start it (all queues without `queues`;
    `include`: modules the worker imports first, e.g. one that `integrations.registry.register`s)."""
    args = [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "--loglevel=INFO", "-n", f"{name}@%h"]
    args += ["--without-mingle", "--without-gossip"]
    args += [f"--include={','.join(include)}"] if include else []
    return args + (["-Q", queues] if queues else [])


@dataclass
class WorkerProcess:
    """`celery -A workers.app worker` as a subprocess, logging to a file tests can read."""

    env: dict[str, str]
    log_path: Path
    queues: str | None = None
    name: str = field(default_factory=lambda: f"test-{uuid.uuid4().hex[:6]}")
    include: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> WorkerProcess:
        args = worker_command(self.name, self.queues, self.include)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            args, cwd=ROOT, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while b" ready." not in self.log_path.read_bytes()[offset:]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        return self

    def kill(self) -> None:
        """SIGKILL the whole worker (a crash: no warm shutdown, nothing acked)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def regos_like_id() -> str:
    """A fresh id shaped like REGOS's own examples (`11v5929ba236415hb31346ede021bdi4`, docs.regos.uz
    quick start): 32 letters and digits, deliberately not hex, so nothing may assume hex."""
    return "r" + secrets.token_hex(15) + "zq"[secrets.randbelow(2)]


@dataclass
class Stack:
    env: dict[str, str]
    fakes: dict[str, Any]
    worker: WorkerProcess
    client: TestClient
    redis: redis.Redis

    @property
    def regos(self) -> Any:
        return self.fakes["regos"]

    def new_cid(self, key: str, settings: dict[str, str] | None = None, *, active: bool = True) -> str:
        cid = regos_like_id()
        self.regos.add_connected_integration(cid, key, is_active=active, settings=settings or {})
        return cid

    def call(self, client: str, action: str, cid: str | None, data: Any = None, **extra: Any) -> httpx2.Response:
        body = {"action": action, "connected_integration_id": cid, "data": data, **extra}
        return self.client.post(f"/clients/{client}", json=body)

    def task(self, task_id: str) -> dict[str, Any]:
        response = self.client.get(f"/tasks/{task_id}", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
        assert response.status_code == 200, response.text
        return response.json()

    def wait_task(self, task_id: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            view = self.task(task_id)
            if view["state"] in FINAL:
                return view
            if time.monotonic() > deadline:
                raise AssertionError(f"task {task_id} not final after {timeout}s: {view}\n{self.worker.log()[-3000:]}")
            time.sleep(0.05)


@contextmanager
def running_stack(
    redis_url: str, fakes: dict[str, Any], log_dir: Path, include: tuple[str, ...] = ()
) -> Iterator[Stack]:
    """The whole gateway over real parts: the API in-process, one worker (importing `include`)."""
    from api.app import create_app
    from settings import get_settings

    env = stack_env(redis_url, fakes)
    os.environ.update(env)
    get_settings.cache_clear()
    worker = WorkerProcess(env, log_dir / "worker.log", include=include).start()
    try:
        with TestClient(create_app(get_settings())) as client:
            yield Stack(env, fakes, worker, client, redis.Redis.from_url(redis_url))
    finally:
        worker.stop()


@contextmanager
def isolated_stack(redis_url: str, fakes: dict[str, Any], log_dir: Path) -> Iterator[Stack]:
    """A second stack on its own Redis (or database) that leaves this process's environment alone:
    for tests that must not share the suite's worker (its delayed tasks) or its Redis (restarts)."""
    from api.app import create_app
    from settings import Settings

    env = stack_env(redis_url, fakes)
    worker = WorkerProcess(env, log_dir / "worker.log").start()
    try:
        settings = Settings(_env_file=None, **{k.lower(): v for k, v in env.items()})
        with TestClient(create_app(settings)) as client:
            yield Stack(env, fakes, worker, client, redis.Redis.from_url(redis_url))
    finally:
        worker.stop()


def wait_until(predicate: Any, timeout: float = 20.0, interval: float = 0.05, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
