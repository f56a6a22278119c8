"""Task events for a SendMessages call, so Flower shows its progress under the id REGOS got.

The parent task returns as soon as its chunks are dispatched, while the work goes on in the
chunks. Left to Celery, Flower would show the parent SUCCESS at once. The parent therefore
sends no events of its own (`send_events=False`) and this module emits them instead:
received/started when it begins, `task-progress` (state PROGRESS, fields `done`, `total`) as
chunks complete, and succeeded/failed with the totals when the last chunk finishes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from celery import Task

log = logging.getLogger("workers.events")


@contextmanager
def dispatching(task: Task) -> Iterator[Callable[..., None]]:
    """`send(type_, uuid, **fields)` for many task events over one dispatcher (best effort:
    a lost event must never fail the work)."""
    if not task.app.conf.worker_send_task_events:
        yield lambda *_, **__: None
        return
    with ExitStack() as stack:
        try:
            dispatcher = stack.enter_context(task.app.events.default_dispatcher(hostname=task.request.hostname))
        except Exception as exc:  # the broker hiccuped: progress display only
            log.warning("could not send task events: %s", exc)
            yield lambda *_, **__: None
            return

        def send(type_: str, uuid: str, **fields: Any) -> None:
            try:
                dispatcher.send(type_, uuid=uuid, timestamp=time.time(), **fields)
            except Exception as exc:  # the broker hiccuped: progress display only
                log.warning("could not send %s event for %s: %s", type_, uuid, exc)

        yield send


def emit(task: Task, type_: str, uuid: str, **fields: Any) -> None:
    """Send one task event for `uuid` (best effort)."""
    with dispatching(task) as send:
        send(type_, uuid, **fields)


def bulk_started(task: Task, total: int, chunks: int) -> None:
    request = task.request
    emit(
        task,
        "task-received",
        request.id,
        name=task.name,
        args=request.argsrepr or "",
        kwargs="{}",
        root_id=request.root_id,
        parent_id=request.parent_id,
        retries=request.retries,
    )
    emit(task, "task-started", request.id)
    emit(task, "task-progress", request.id, done=0, total=total, chunks=chunks)


def bulk_progress(task: Task, bulk_id: str, done: int, total: int) -> None:
    emit(task, "task-progress", bulk_id, done=done, total=total)


def bulk_finished(task: Task, bulk_id: str, totals: dict[str, Any]) -> None:
    emit(task, "task-succeeded", bulk_id, result=repr(totals), runtime=0.0)


def bulk_failed(task: Task, error: str) -> None:
    emit(task, "task-failed", task.request.id, exception=error, traceback="")
