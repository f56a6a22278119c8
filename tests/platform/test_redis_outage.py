"""Redis down or frozen: the ingress answers 503 fast, stays up, and recovers by itself."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from scripts.local_redis import LocalRedis
from settings import Settings

CID = "0123456789abcdef0123456789abcdef"
WEBHOOK = {"action": "HandleWebhook", "connected_integration_id": CID, "data": {"action": "DocChequeClosed"}}


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[LocalRedis]:
    server = LocalRedis(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def client(own_redis: LocalRedis) -> Iterator[TestClient]:
    from api.app import create_app

    with TestClient(create_app(Settings(environment="test", redis_url=own_redis.url))) as test_client:
        yield test_client


def _timed_post(client: TestClient) -> tuple[int, float]:
    started = time.monotonic()
    response = client.post("/clients/getsms", json=WEBHOOK)
    return response.status_code, time.monotonic() - started


def test_stopped_redis_means_503_then_recovery(own_redis: LocalRedis, client: TestClient) -> None:
    assert _timed_post(client)[0] == 200
    port = own_redis.port
    own_redis.stop()

    status, elapsed = _timed_post(client)
    assert status == 503 and elapsed < 1.5, (status, elapsed)
    assert client.post("/clients/getsms", json=WEBHOOK).json()["result"]["error"] == 503
    assert client.get("/ready").status_code == 503
    assert client.get("/health").status_code == 200

    own_redis.port = port
    own_redis.start()
    deadline = time.monotonic() + 10
    while _timed_post(client)[0] != 200:
        assert time.monotonic() < deadline, "ingress did not recover after Redis came back"
        time.sleep(0.2)
    assert client.get("/ready").status_code == 200


def test_frozen_redis_means_503_within_the_enqueue_timeout(own_redis: LocalRedis, client: TestClient) -> None:
    assert _timed_post(client)[0] == 200
    own_redis.freeze()
    try:
        status, elapsed = _timed_post(client)
        assert status == 503 and elapsed < 1.5, (status, elapsed)
    finally:
        own_redis.thaw()
    deadline = time.monotonic() + 10
    while _timed_post(client)[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)
