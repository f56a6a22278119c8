"""`GET /metrics` of the API: requests by route template and status, latency, duplicates, enqueue failures."""

from __future__ import annotations

from starlette.testclient import TestClient

from api.metrics import LATENCY_BUCKETS, UNMATCHED
from scripts.local_redis import free_port
from settings import Settings
from tests.harness import OPERATOR_TOKEN, Stack
from tests.ops import OPERATOR, sample

GETSMS_SETTINGS = {"GETSMS_LOGIN": "x", "GETSMS_PASSWORD": "y"}


def _metrics(client: TestClient) -> str:
    response = client.get("/metrics", headers=OPERATOR)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def _count(text: str, name: str, **labels: str) -> float:
    return sample(text, name, **labels) or 0.0


def test_metrics_need_the_operator_token(stack: Stack) -> None:
    assert stack.client.get("/metrics").status_code == 401
    assert stack.client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_a_request_is_counted_by_route_template_and_timed(stack: Stack) -> None:
    before = _metrics(stack.client)
    assert stack.client.get("/health").status_code == 200
    stack.client.get("/tasks/does-not-exist", headers=OPERATOR)
    stack.client.get("/no/such/path/123")
    after = _metrics(stack.client)

    labels = {"route": "/health", "method": "GET", "status": "200"}
    assert (
        _count(after, "gateway_http_requests_total", **labels)
        == _count(before, "gateway_http_requests_total", **labels) + 1
    )
    # the template, never the concrete id (bounded cardinality)
    assert _count(after, "gateway_http_requests_total", route="/tasks/{task_id}", status="404") >= 1
    assert "does-not-exist" not in after and "/no/such/path" not in after
    assert _count(after, "gateway_http_requests_total", route=UNMATCHED, status="404") >= 1
    # latency histogram with buckets from 1 ms to REGOS's 3 s timeout
    assert _count(after, "gateway_http_request_duration_seconds_count", route="/health") >= 1
    for bound in (LATENCY_BUCKETS[0], LATENCY_BUCKETS[-1]):
        assert sample(after, "gateway_http_request_duration_seconds_bucket", route="/health", le=str(bound)) is not None
    assert (LATENCY_BUCKETS[0], LATENCY_BUCKETS[-1]) == (0.001, 3.0)
    # queue gauges come with every scrape
    assert sample(after, "gateway_queue_report_up") == 1.0
    for queue in ("webhooks", "lifecycle", "external", "messages"):
        assert sample(after, "gateway_queue_consumers", queue=queue) >= 1, after
        assert sample(after, "gateway_queue_depth", queue=queue) is not None


def test_duplicate_deliveries_are_counted(stack: Stack) -> None:
    cid = stack.new_cid("getsms", GETSMS_SETTINGS)
    webhook = {"action": "DocChequeClosed", "data": {"uuid": "x"}}
    before = _count(_metrics(stack.client), "gateway_duplicates_total", kind="regos_call")
    first = stack.call("getsms", "HandleWebhook", cid, webhook, event_id=f"evt-metrics-{cid}")
    second = stack.call("getsms", "HandleWebhook", cid, webhook, event_id=f"evt-metrics-{cid}")
    assert first.status_code == second.status_code == 200
    assert second.json()["result"].get("duplicate") is True
    after = _count(_metrics(stack.client), "gateway_duplicates_total", kind="regos_call")
    assert after == before + 1


def test_enqueue_failures_are_counted_and_the_scrape_survives_redis_down(stack: Stack) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings = Settings(environment="test", redis_url=dead, enqueue_timeout_seconds=0.3, operator_token=OPERATOR_TOKEN)
    from api.app import create_app

    with TestClient(create_app(settings)) as client:
        before = _count(_metrics(client), "gateway_enqueue_failures_total")
        cid = "0123456789abcdef0123456789abcdef"
        response = client.post(
            "/clients/getsms",
            json={"action": "HandleWebhook", "connected_integration_id": cid, "data": {"action": "X"}},
        )
        assert response.status_code == 503, response.text
        text = _metrics(client)
    assert _count(text, "gateway_enqueue_failures_total") == before + 1
    assert sample(text, "gateway_queue_report_up") == 0.0
    assert sample(text, "gateway_queue_depth", queue="webhooks") is None  # no stale numbers
