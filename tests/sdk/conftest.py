"""Fixtures for SDK tests: a fresh FakeRegos per test and a `make_settings` factory.

Tests are sync and drive coroutines with `asyncio.run` (no pytest-asyncio); every test uses its
own connected integration id and its own OAuth client id, so Redis state never leaks between tests.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from settings import Settings
from tests.fakes.regos import FakeRegos


@pytest.fixture
def fake() -> Iterator[FakeRegos]:
    server = FakeRegos(client_id=f"gw-{uuid.uuid4().hex[:8]}")
    server.start()
    yield server
    # shutdown() waits out serve_forever's 0.5 s poll: do it off the test's clock.
    threading.Thread(target=server.stop, daemon=True).start()


@pytest.fixture
def cid() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def make_settings(fake: FakeRegos, redis_url: str) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "environment": "test",
            "redis_url": redis_url,
            "regos_rate_limit_per_second": 1000.0,
            "regos_rate_limit_burst": 1000,
            **fake.settings_kwargs(),
        }
        values.update(overrides)
        return Settings(**values)

    return build
