"""The walk-through's own stack: its provider registered in the ingress (this process) and in the
worker (`include`), its fake beside the fake REGOS, on a Redis database no other stack uses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tests.walkthrough.registration  # noqa: F401  (the registry line, for the ingress)
from tests.fakes.regos import FakeRegos
from tests.harness import Stack, running_stack
from tests.walkthrough.fake import FakeTinySms


@pytest.fixture(scope="session")
def tiny_fakes() -> Iterator[dict[str, Any]]:
    servers = {"regos": FakeRegos(), "tinysms": FakeTinySms()}
    for server in servers.values():
        server.start()
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="session")
def tiny_stack(redis_url: str, tiny_fakes: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis_url = redis_url.rsplit("/", 1)[0] + "/3"  # this worker must not take other stacks' tasks
    log_dir = Path(tmp_path_factory.mktemp("walkthrough"))
    with running_stack(redis_url, tiny_fakes, log_dir, include=("tests.walkthrough.registration",)) as stack:
        yield stack
