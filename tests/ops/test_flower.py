"""Flower as `make run` starts it: behind basic auth, with a working Prometheus endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.harness import Stack, isolated_stack, wait_until
from tests.ops import FlowerProcess, basic_auth, sample

GETSMS_SETTINGS = {"GETSMS_LOGIN": "x", "GETSMS_PASSWORD": "y"}


@pytest.fixture(scope="module")
def stack(redis_url: str, fakes: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A worker of its own: with Celery 5.6.3 a worker that holds delayed (countdown) tasks sends no
    task-started events, so Flower's prefetch gauge stays empty (docs/operating.md, Flower)."""
    url = redis_url.rsplit("/", 1)[0] + "/9"
    with isolated_stack(url, fakes, Path(tmp_path_factory.mktemp("flower-stack"))) as own:
        yield own


@pytest.fixture(scope="module")
def flower(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowerProcess]:
    process = FlowerProcess(stack.env, Path(tmp_path_factory.mktemp("flower")) / "flower.log").start()
    yield process
    process.stop()


def test_flower_ui_and_api_need_basic_auth(flower: FlowerProcess) -> None:
    for path in ("/", "/tasks", "/api/tasks", "/workers"):
        assert httpx2.get(flower.url + path, timeout=5).status_code == 401, path
        wrong = basic_auth(password="wrong")
        assert httpx2.get(flower.url + path, headers=wrong, timeout=5).status_code == 401, path
    response = httpx2.get(flower.url + "/tasks", headers=basic_auth(), timeout=5)
    assert response.status_code == 200 and "Flower" in response.text


def test_flower_metrics_show_worker_and_task_events(stack: Stack, flower: FlowerProcess) -> None:
    flower.wait_for_events(stack.worker.name)
    cid = stack.new_cid("getsms", GETSMS_SETTINGS)
    webhook = {"action": "DocChequeClosed", "data": {"uuid": "x"}}
    task_id = stack.call("getsms", "HandleWebhook", cid, webhook).json()["result"]["task_id"]
    assert stack.wait_task(task_id)["state"] == "SUCCESS"

    def metrics() -> str:
        response = httpx2.get(flower.url + "/metrics", headers=basic_auth(), timeout=5)
        assert response.status_code == 200
        return response.text

    def succeeded() -> float:
        labels = {"type": "task-succeeded", "task": "integrations.handle_webhook"}
        return sample(metrics(), "flower_events_total", **labels) or 0.0

    wait_until(lambda: succeeded() >= 1, what="flower to count the task")
    text = metrics()
    worker = next(
        line.split('worker="')[1].split('"')[0] for line in text.splitlines() if "flower_worker_online{" in line
    )
    assert worker.startswith(stack.worker.name + "@")
    # The names docs/operating.md tells operators to alert on.
    assert sample(text, "flower_worker_online", worker=worker) == 1.0
    assert sample(text, "flower_task_runtime_seconds_count", task="integrations.handle_webhook") >= 1
    # set from worker-heartbeat events (every 2 s), not from worker-online
    executing = "flower_worker_number_of_currently_executing_tasks"
    wait_until(lambda: sample(metrics(), executing, worker=worker) is not None, what=executing)
    prefetch = "flower_task_prefetch_time_seconds"  # set when Flower has both task-received and task-started
    wait_until(lambda: sample(metrics(), prefetch, task="integrations.handle_webhook") is not None, what=prefetch)
    # As documented: Flower serves /metrics and /healthcheck without credentials (keep its port private).
    assert httpx2.get(flower.url + "/metrics", timeout=5).status_code == 200
    assert httpx2.get(flower.url + "/healthcheck", timeout=5).text == "OK"
