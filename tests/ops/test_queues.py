"""`GET /admin/queues`: depth and live consumers per queue; work without a consumer fails it.

Also the worker's own metrics endpoint (WORKER_METRICS_PORT), measured on a worker of a
private Redis database so that its numbers are its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
import redis
from starlette.testclient import TestClient

from jobs import heartbeat
from scripts.local_redis import free_port
from settings import Settings
from tests.harness import OPERATOR_TOKEN, Stack, WorkerProcess, wait_until
from tests.ops import OPERATOR, sample

QUEUES = ("webhooks", "lifecycle", "external", "messages")
GETSMS_SETTINGS = {"GETSMS_LOGIN": "x", "GETSMS_PASSWORD": "y"}


def test_queue_report_needs_the_operator_token(stack: Stack) -> None:
    assert stack.client.get("/admin/queues").status_code == 401


def test_every_queue_of_the_stack_has_a_live_consumer(stack: Stack) -> None:
    response = stack.client.get("/admin/queues", headers=OPERATOR)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["ok"] is True and report["problems"] == []
    assert set(report["queues"]) == set(QUEUES)
    for queue in QUEUES:
        assert report["queues"][queue]["consumers"] >= 1, report
        assert stack.worker.name + "@" in " ".join(report["queues"][queue]["workers"])
    mine = [w for w in report["workers"] if w["name"].startswith(stack.worker.name + "@")]
    assert mine and sorted(mine[0]["queues"]) == sorted(QUEUES) and mine[0]["seen_seconds_ago"] < 15


def test_a_consumer_goes_stale_only_after_missing_two_heartbeats() -> None:
    assert heartbeat.STALE_AFTER_SECONDS >= 2 * heartbeat.HEARTBEAT_SECONDS
    assert heartbeat.KEY_TTL_SECONDS > heartbeat.STALE_AFTER_SECONDS  # the stamps outlive the staleness window


@pytest.fixture
def private(stack: Stack) -> Iterator[tuple[dict[str, str], TestClient]]:
    """An API on its own Redis database (own queues, own heartbeats) beside the shared stack."""
    url = stack.env["REDIS_URL"].rsplit("/", 1)[0] + "/7"
    redis.Redis.from_url(url).flushdb()
    env = {**stack.env, "REDIS_URL": url}
    from api.app import create_app

    settings = Settings(environment="test", redis_url=url, operator_token=OPERATOR_TOKEN)
    with TestClient(create_app(settings)) as client:
        yield env, client


def test_work_without_consumer_fails_until_a_worker_takes_it(
    stack: Stack, private: tuple[dict[str, str], TestClient], tmp_path: Path
) -> None:
    env, client = private
    cid = stack.new_cid("getsms", GETSMS_SETTINGS)
    queued = client.post(
        "/clients/getsms",
        json={
            "action": "HandleWebhook",
            "connected_integration_id": cid,
            "data": {"action": "DocChequeClosed", "data": {}},
        },
    )
    assert queued.status_code == 200, queued.text
    response = client.get("/admin/queues", headers=OPERATOR)
    assert response.status_code == 503, response.text
    report = response.json()
    assert report["ok"] is False
    assert report["queues"]["webhooks"] == {"depth": 1, "consumers": 0, "workers": []}
    assert "webhooks" in report["problems"][0] and "no live consumer" in report["problems"][0]
    assert sample(client.get("/metrics", headers=OPERATOR).text, "gateway_queue_depth", queue="webhooks") == 1.0

    port = free_port()
    worker = WorkerProcess({**env, "WORKER_METRICS_PORT": str(port)}, tmp_path / "worker.log").start()
    try:

        def consumed() -> bool:
            report = client.get("/admin/queues", headers=OPERATOR).json()
            return report["ok"] is True and all(report["queues"][q]["consumers"] == 1 for q in QUEUES)

        wait_until(consumed, what="the queue drained and the worker's heartbeat on every queue")
        report = client.get("/admin/queues", headers=OPERATOR).json()
        assert report["queues"]["webhooks"]["depth"] == 0, report
        assert report["workers"][0]["metrics_port"] == port

        def worker_metrics() -> str:
            return httpx2.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text

        wait_until(
            lambda: (
                sample(
                    worker_metrics(),
                    "gateway_worker_tasks_total",
                    task="integrations.handle_webhook",
                    outcome="success",
                )
                == 1.0
            ),
            what="the webhook task counted by the worker",
        )
        text = worker_metrics()
        assert sample(text, "gateway_worker_task_duration_seconds_count", task="integrations.handle_webhook") == 1.0
        assert sample(text, "gateway_worker_outbound_requests_total", target="regos", outcome="2xx") >= 1
        assert sample(text, "gateway_worker_outbound_request_duration_seconds_count", target="regos") >= 1
        assert sample(text, "gateway_worker_tasks_running", task="integrations.handle_webhook") == 0.0
    finally:
        worker.stop()
    # a clean shutdown withdraws the consumer at once (a killed one goes stale in 15 s)
    report = client.get("/admin/queues", headers=OPERATOR).json()
    assert all(report["queues"][q]["consumers"] == 0 for q in QUEUES), report
    assert report["ok"] is True  # nothing waiting: no consumer is not a problem yet
