"""The EDO stack: private Redis, fake REGOS (with the EDO methods), fake Didox, a real worker, the API."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

PARTNER_TOKEN = "planted-didox-partner-token-5c1d"


@pytest.fixture(scope="session")
def edo_fakes() -> Iterator[dict[str, Any]]:
    import tests.fakes.regos_edo  # noqa: F401 - registers the EDO methods on FakeRegos
    from tests.fakes.didox import FakeDidox
    from tests.fakes.fakturauz import FakeFaktura
    from tests.fakes.regos import FakeRegos

    servers = {"regos": FakeRegos().start(), "didox": FakeDidox(partner_token=PARTNER_TOKEN).start()}
    servers["fakturauz"] = FakeFaktura().start()
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="session")
def edo_stack(redis_url: str, edo_fakes: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from starlette.testclient import TestClient

    from settings import get_settings
    from tests.harness import Stack, WorkerProcess, stack_env

    # Its own Redis database: this worker must not take the tasks of the suite's other stack
    # (tests/conftest.py `stack`), whose fake REGOS knows other connected integrations.
    redis_url = redis_url.rsplit("/", 1)[0] + "/2"
    env = stack_env(
        redis_url,
        edo_fakes,
        DIDOX_BASE_URL=edo_fakes["didox"].url,
        DIDOX_PARTNER_TOKEN=PARTNER_TOKEN,
        FAKTURA_UZ_API_URL=edo_fakes["fakturauz"].url + "/Api",
        FAKTURA_UZ_TOKEN_URL=edo_fakes["fakturauz"].url + "/token",
    )
    os.environ.update(env)
    get_settings.cache_clear()
    from api.app import create_app

    worker = WorkerProcess(env, Path(tmp_path_factory.mktemp("edo-worker")) / "worker.log").start()
    with TestClient(create_app(get_settings())) as client:
        yield Stack(env, edo_fakes, worker, client, redis.Redis.from_url(redis_url))
    worker.stop()
