"""Shared fixtures: a private Redis, fakes of REGOS and the providers, a real worker, the API.

The suite never uses a Redis it did not start: it can then stop and freeze it (fault tests)
and several suites can run side by side on one machine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.local_redis import LocalRedis

os.environ.setdefault("ENVIRONMENT", "test")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedis]:
    server = LocalRedis(Path(tmp_path_factory.mktemp("redis"))).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: LocalRedis) -> str:
    return redis_server.url


@pytest.fixture(scope="session")
def fakes() -> Iterator[dict[str, Any]]:
    from tests.fakes.getsms import FakeGetSms
    from tests.fakes.regos import FakeRegos
    from tests.fakes.sms import FakeEskiz

    servers = {"regos": FakeRegos(), "getsms": FakeGetSms(), "eskiz": FakeEskiz()}
    try:
        from tests.fakes.telegram import FakeTelegram

        servers["telegram"] = FakeTelegram()
    except ImportError:
        pass
    for server in servers.values():
        server.start()
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="session")
def stack(redis_url: str, fakes: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The whole gateway over real parts. Tests use fresh connected integration ids (`new_cid`)."""
    from tests.harness import running_stack

    with running_stack(redis_url, fakes, Path(tmp_path_factory.mktemp("worker"))) as stack:
        yield stack


@pytest.fixture(autouse=False)
def fresh_fakes(fakes: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield fakes
    for server in fakes.values():
        server.clear_faults()
