"""Shared fixtures: a private Redis for the whole session.

The suite never uses a Redis it did not start: it can then stop and freeze it (fault tests)
and several suites can run side by side on one machine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

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
