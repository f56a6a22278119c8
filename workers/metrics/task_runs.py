"""Task attempts, measured from Celery's task signals, and SendMessages outcomes per provider.

Connected when `workers.app` imports this module, in every worker process. The gateway runs
Celery's *thread* pool: the signal handlers of concurrent tasks share these collectors.
"""

from __future__ import annotations

import time
from typing import Any

from celery.signals import task_postrun, task_prerun, task_rejected, task_retry, task_revoked
from prometheus_client import Counter, Gauge, Histogram

TASK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 50.0)

TASKS = Counter("gateway_worker_tasks", "Finished task attempts by task name and outcome", ["task", "outcome"])
TASK_DURATION = Histogram(
    "gateway_worker_task_duration_seconds", "Run time of one task attempt", ["task"], buckets=TASK_BUCKETS
)
RETRIES = Counter("gateway_worker_task_retries", "Task retries scheduled", ["task"])
RUNNING = Gauge("gateway_worker_tasks_running", "Task attempts running now", ["task"])
MESSAGES = Counter(
    "gateway_worker_messages",
    "SendMessages outcomes per provider (integration key): accepted, failed, unknown; reconciled and resent "
    "count earlier unknown outcomes settled by asking the provider / by sending again (also in accepted)",
    ["provider", "outcome"],
)

_started: dict[str, float] = {}  # task id -> perf_counter at prerun (thread pool: GIL-atomic dict ops)


def count_messages(provider: str, counts: dict[str, int]) -> None:
    for outcome, n in counts.items():
        if n:
            MESSAGES.labels(provider, outcome).inc(n)


def count_inner_run(name: str, state: str, seconds: float) -> None:
    """Work that ran inside another task (one webhook of a batch), counted as its own task would be:
    `state` is Celery's, lower case (success, retry, failure)."""
    TASK_DURATION.labels(name).observe(seconds)
    TASKS.labels(name, state).inc()
    RUNNING.labels(name)  # shown (0): the batch task's own gauge counts it while it runs
    if state == "retry":
        RETRIES.labels(name).inc()


@task_prerun.connect
def _on_prerun(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if task_id:
        _started[task_id] = time.perf_counter()
    RUNNING.labels(getattr(task, "name", "unknown")).inc()


@task_postrun.connect
def _on_postrun(task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any) -> None:
    name = getattr(task, "name", "unknown")
    RUNNING.labels(name).dec()
    started = _started.pop(task_id, None) if task_id else None
    if started is not None:
        TASK_DURATION.labels(name).observe(time.perf_counter() - started)
    TASKS.labels(name, (state or "unknown").lower()).inc()


@task_retry.connect
def _on_retry(sender: Any = None, **_: Any) -> None:
    RETRIES.labels(getattr(sender, "name", "unknown")).inc()


@task_revoked.connect
def _on_revoked(request: Any = None, **_: Any) -> None:
    TASKS.labels(getattr(request, "task_name", None) or getattr(request, "name", None) or "unknown", "revoked").inc()


@task_rejected.connect
def _on_rejected(message: Any = None, **_: Any) -> None:
    headers = getattr(message, "headers", None) or {}
    TASKS.labels(str(headers.get("task", "unknown")), "rejected").inc()
