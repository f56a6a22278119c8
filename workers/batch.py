"""Run the waiting webhooks of one connected integration as one batch (`jobs/webhook_batches.py`).

The batch task reads up to WEBHOOK_BATCH_MAX events, builds the integration once and calls
`handle_webhooks` once; then each event ends as if it had been its own task: its result under its
own task id in Celery's result format (so `/tasks/{id}` and `AsyncResult` work), Flower events
with its id, name `integrations.handle_webhook` and the batch's id as parent. An event that failed
transiently is re-published alone as a classic `integrations.handle_webhook` task (the usual
retry and dead-letter path, `GatewayTask`); one that failed for good is dead-lettered alone. Only
then is the batch trimmed from the waiting list (a killed worker's batch runs again: effects are
exactly-once through the ledger).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from celery import Task
from pydantic import ValidationError

from integrations.errors import PermanentError
from jobs import names, webhook_batches
from jobs.publish import task_message
from logconfig import bind
from schemas.envelope import TaskEnvelope, WebhookCall, WebhookEvent
from settings import get_settings
from workers.events import dispatching
from workers.execution import build_integration, jsonable
from workers.gateway_task import GatewayTask, TaskFailed, dead_letter, is_transient
from workers.metrics.task_runs import count_inner_run
from workers.retry import countdown, describe, retry_after_of
from workers.runtime import TaskTimedOut, runtime

log = logging.getLogger("workers.batch")

# handle_webhooks gets this share of the task's time limit: reading, recording and trimming the
# batch must still fit in it, or a slow batch would be retried whole instead of per event.
HANDLING_SHARE = 0.8


@dataclass(frozen=True)
class Pending:
    raw: bytes  # the list item as stored: FINISH trims up to it
    task_id: str
    envelope: dict[str, Any]
    argsrepr: str


def _parse(raw: bytes) -> Pending:
    item = orjson.loads(raw)
    return Pending(raw, item["id"], item["envelope"], item.get("argsrepr", ""))


async def _read(client: str, cid: str, limit: int) -> list[Pending]:
    raws = await runtime.resources().redis.lrange(webhook_batches.pending_key(client, cid), 0, limit - 1)
    return [_parse(raw) for raw in raws]


def _event(p: Pending) -> tuple[TaskEnvelope, WebhookEvent] | Exception:
    """The event as the integration takes it; an item that does not parse fails alone."""
    try:
        envelope = TaskEnvelope.model_validate(p.envelope)
        call = WebhookCall.model_validate(envelope.data)
    except ValidationError as exc:
        return PermanentError(f"webhook {p.task_id} is not a valid HandleWebhook: {exc.errors()[:3]}")
    event = WebhookEvent(
        call=call,
        event_id=envelope.event_id,
        occurred_at=envelope.occurred_at,
        task_id=p.task_id,
        request_id=envelope.request_id,
    )
    return envelope, event


async def _handle(pending: list[Pending], batch_id: str) -> list[Any]:
    """One outcome per event: a JSON-able result or the exception that event raised."""
    outcomes: list[Any] = [_event(p) for p in pending]
    valid = [n for n, parsed in enumerate(outcomes) if not isinstance(parsed, Exception)]
    if not valid:
        return outcomes
    envelope = outcomes[valid[0]][0]
    events = [outcomes[n][1] for n in valid]
    limit = runtime.resources().settings.task_time_limit_seconds * HANDLING_SHARE
    try:
        async with asyncio.timeout(limit):
            integration = await build_integration(envelope, batch_id)
            results: list[Any] = await integration.handle_webhooks(events)
        if len(results) != len(events):
            raise PermanentError(f"{envelope.client} handle_webhooks gave {len(results)} outcomes for {len(events)}")
    except TimeoutError:  # past its share of the time limit: each event retries alone
        results = [TaskTimedOut(f"webhook batch {batch_id} gave up after {limit:.0f} s (TASK_TIME_LIMIT_SECONDS)")]
        results *= len(events)
    except Exception as exc:  # the tenant check or the settings: every event shares the outcome
        results = [exc] * len(events)
    for n, result in zip(valid, results, strict=True):
        outcomes[n] = result if isinstance(result, BaseException) else jsonable(result)
    return outcomes


def _announce(task: Task, pending: list[Pending], batch_id: str) -> None:
    """Flower: every event of the batch received and started under its own id."""
    with dispatching(task) as send:
        for p in pending:
            send(
                "task-received",
                p.task_id,
                name=names.HANDLE_WEBHOOK,
                args=p.argsrepr,
                kwargs=repr({"batch": batch_id}),
                root_id=p.task_id,
                parent_id=batch_id,
                retries=0,
            )
            send("task-started", p.task_id)


def _settle(
    task: GatewayTask, retry_task: Task, pending: list[Pending], outcomes: list[Any], started: float
) -> dict[str, int]:
    """Each event ends as its own task would have: result, retry alone, or dead letter alone.
    Its runtime is the batch's (Flower's runtime metric counts only non-zero ones)."""
    backend = task.app.backend
    settings = get_settings()
    counts = {"succeeded": 0, "retried": 0, "failed": 0}
    with dispatching(task) as send:
        for p, outcome in zip(pending, outcomes, strict=True):
            if not isinstance(outcome, BaseException):
                backend.mark_as_done(p.task_id, outcome)
                seconds = time.monotonic() - started
                send("task-succeeded", p.task_id, result=repr(outcome)[:1024], runtime=seconds)
                count_inner_run(names.HANDLE_WEBHOOK, "success", seconds)
                counts["succeeded"] += 1
                continue
            reason = describe(outcome)
            waits = not getattr(outcome, "counts_as_attempt", True)  # a bounded wait uses no retry up
            if waits or is_transient(outcome):
                wait = countdown(0, retry_after_of(outcome), settings)
                log.warning("event %s retried alone in %.1fs: %s", p.task_id, wait, reason)
                backend.mark_as_retry(p.task_id, outcome)
                retry_task.apply_async(
                    kwargs={"envelope": p.envelope}, task_id=p.task_id, countdown=wait, retries=0 if waits else 1
                )
                send("task-retried", p.task_id, exception=reason, traceback="")
                count_inner_run(names.HANDLE_WEBHOOK, "retry", time.monotonic() - started)
                counts["retried"] += 1
                continue
            log.error("event %s failed: %s", p.task_id, reason)
            letter = {
                "task_name": names.HANDLE_WEBHOOK,
                "task_id": p.task_id,
                "kwargs": {"envelope": p.envelope},
                "error": reason,
                "attempts": 1,
            }
            runtime.run(dead_letter(letter))
            backend.mark_as_failure(p.task_id, TaskFailed(reason))
            send("task-failed", p.task_id, exception=f"TaskFailed: {reason}", traceback="")
            count_inner_run(names.HANDLE_WEBHOOK, "failure", time.monotonic() - started)
            counts["failed"] += 1
    return counts


async def _finish(client: str, cid: str, last: bytes | None) -> bool:
    """Trim what this batch handled; queue the next batch if more arrived. True if queued."""
    redis = runtime.resources().redis
    queue = names.QUEUE_OF_TASK[names.HANDLE_WEBHOOK_BATCH]
    batch_id = f"batch-{uuid.uuid4()}"
    message = task_message(
        names.HANDLE_WEBHOOK_BATCH,
        batch_id,
        webhook_batches.batch_kwargs(client, cid),
        argsrepr=webhook_batches.batch_argsrepr(client, cid),
        queue=queue,
    )
    queued = await redis.eval(
        webhook_batches.FINISH,
        3,
        webhook_batches.pending_key(client, cid),
        webhook_batches.scheduled_key(client, cid),
        queue,
        last or b"",
        message,
        runtime.resources().settings.result_expires_seconds,
        webhook_batches.SCHEDULED_TTL_SECONDS,
    )
    return bool(queued)


def run_batch(task: GatewayTask, retry_task: Task, client: str, cid: str) -> dict[str, Any]:
    """The body of `integrations.handle_webhook_batch`: returns the events it carried and how they ended."""
    batch_id = task.request.id or ""
    with bind(task_id=batch_id, client=client, connected_integration_id=cid, action="handle_webhook_batch"):
        pending = task.attempt(_read(client, cid, get_settings().webhook_batch_max))
        counts = {"succeeded": 0, "retried": 0, "failed": 0}
        if pending:
            started = time.monotonic()
            _announce(task, pending, batch_id)
            outcomes = task.attempt(_handle(pending, batch_id))
            try:
                counts = _settle(task, retry_task, pending, outcomes, started)
            except Exception as exc:  # the broker or Redis blinked: run the batch again (not trimmed yet)
                raise task.retry_or_fail(exc) from None
        more = task.attempt(_finish(client, cid, pending[-1].raw if pending else None))
        log.info("webhook batch of %d events: %s (more waiting: %s)", len(pending), counts, more)
        return {"events": [p.task_id for p in pending], **counts}
