"""SendMessages as a fan-out: a parent task splits, chunk tasks send, the last one reports.

Chunk ids are deterministic (`{client}:{cid}:{event_id or parent task id}:{n}`), so a
redelivered or retried chunk — or a redelivered parent re-dispatching its chunks — meets the
integration's exactly-once ledger instead of the provider.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, TypeVar

from celery import Task

from jobs import bulk
from schemas.envelope import InvalidItem, MessageOutcome, OutgoingMessage, TaskEnvelope, mask_recipient
from settings import get_settings
from workers import events, status_poll
from workers.execution import bind_task, build_integration
from workers.gateway_task import GatewayTask, TaskFailed
from workers.metrics.task_runs import count_messages
from workers.runtime import runtime

log = logging.getLogger("workers.messages")

T = TypeVar("T")


def chunk_id(envelope: TaskEnvelope, bulk_id: str, chunk_no: int) -> str:
    return f"{envelope.client}:{envelope.connected_integration_id}:{envelope.event_id or bulk_id}:{chunk_no}"


def chunked(items: Sequence[T], size: int) -> list[list[T]]:
    """`items` in order, cut into lists of at most `size` (the last one may be shorter)."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def fan_out(task: GatewayTask, envelope_data: dict[str, Any], chunk_task: Task) -> dict[str, Any]:
    envelope = TaskEnvelope.model_validate(envelope_data)
    messages = [OutgoingMessage.model_validate(m) for m in envelope.data["messages"]]
    invalid = [InvalidItem.model_validate(i) for i in envelope.data.get("invalid", [])]
    bulk_id = task.request.id or ""
    settings = get_settings()
    with bind_task(envelope, task):
        integration = task.attempt(
            build_integration(envelope, bulk_id), gave_up=lambda error: events.bulk_failed(task, str(error))
        )
        size = type(integration).chunk_size
        chunks = chunked(messages, size)
        if not runtime.run(_start(bulk_id, len(messages), len(chunks), invalid, settings.result_expires_seconds)):
            log.info("bulk %s already finalized; nothing to dispatch", bulk_id)
            return {"chunks": len(chunks)}
        task.update_state(state="PROGRESS", meta={"done": 0, "total": len(messages), "chunks": len(chunks)})
        events.bulk_started(task, len(messages), len(chunks))
        head = envelope.model_copy(update={"data": None}).model_dump()
        for n, chunk in enumerate(chunks):
            chunk_task.apply_async(
                kwargs={
                    "envelope": head,
                    "bulk_id": bulk_id,
                    "chunk_no": n,
                    "messages_": [m.model_dump() for m in chunk],
                },
                task_id=f"{bulk_id}:{n}",
                argsrepr=f"{envelope.client} {envelope.connected_integration_id} chunk {n + 1}/{len(chunks)} "
                f"({len(chunk)} messages)",
                kwargsrepr="{}",
            )
        log.info("dispatched %d messages in %d chunks of <=%d", len(messages), len(chunks), size)
        return {"chunks": len(chunks)}


async def _start(bulk_id: str, total: int, chunks: int, invalid: list[InvalidItem], ttl: int) -> bool:
    return await bulk.start(runtime.resources().redis, bulk_id, total=total, chunks=chunks, invalid=invalid, ttl=ttl)


def send_chunk(
    task: GatewayTask, envelope_data: dict[str, Any], bulk_id: str, chunk_no: int, raw_messages: list[dict[str, Any]]
) -> dict[str, Any]:
    envelope = TaskEnvelope.model_validate(envelope_data)
    messages = [OutgoingMessage.model_validate(m) for m in raw_messages]
    task_id = task.request.id or ""  # read here: `task.request` is thread-local, run() is on the loop thread
    with bind_task(envelope, task):

        async def run() -> list[MessageOutcome]:
            integration = await build_integration(envelope, task_id)
            return await integration.send_chunk(chunk_id(envelope, bulk_id, chunk_no), messages)  # type: ignore[attr-defined]

        def count_failed(error: TaskFailed) -> None:  # the chunk is over: count its messages as failed
            failed = [
                MessageOutcome(index=m.index, recipient=mask_recipient(m.recipient), status="failed", error=str(error))
                for m in messages
            ]
            _record_chunk(task, bulk_id, chunk_no, failed)

        outcomes = task.attempt(run(), gave_up=count_failed)
        _record_chunk(task, bulk_id, chunk_no, outcomes)
        status_poll.after_chunk(envelope, outcomes)
        counts = outcome_counts(outcomes)
        count_messages(envelope.client, counts)
        return {"chunk": chunk_no, **counts}


def outcome_counts(outcomes: list[MessageOutcome]) -> dict[str, int]:
    """accepted / failed / unknown by status; reconciled / resent: earlier unknowns settled now
    (both are also `accepted`)."""
    counts = {s: sum(1 for o in outcomes if o.status == s) for s in ("accepted", "failed", "unknown")}
    counts.update({r: sum(1 for o in outcomes if o.resolution == r) for r in ("reconciled", "resent")})
    return counts


def with_truth(final: dict[str, Any]) -> dict[str, Any]:
    """Add to a bulk result what became of unknown outcomes. A bulk with unresolved unknowns still
    ends SUCCESS (every chunk ran), but says so: `complete: false`, `unresolved: N` and a warning."""
    rows = final.get("messages", [])
    final["reconciled"] = sum(1 for r in rows if r.get("resolution") == "reconciled")
    final["resent"] = sum(1 for r in rows if r.get("resolution") == "resent")
    final["unresolved"] = final.get("unknown", 0)
    final["complete"] = final["unresolved"] == 0
    if final["unresolved"]:
        final["warning"] = (
            f"{final['unresolved']} messages have an unknown outcome (the provider may or may not have sent them); "
            "see the rows with status 'unknown'"
        )
    return final


async def _complete(bulk_id: str, chunk_no: int, outcomes: list[MessageOutcome]) -> tuple[dict | None, dict | None]:
    """Record the chunk; returns (final result if this chunk finished the bulk, progress)."""
    redis = runtime.resources().redis
    ttl = get_settings().result_expires_seconds
    finished = await bulk.complete_chunk(redis, bulk_id, chunk_no, outcomes, ttl)
    return (await bulk.summary(redis, bulk_id) if finished else None), await bulk.progress(redis, bulk_id)


def _record_chunk(task: Task, bulk_id: str, chunk_no: int, outcomes: list[MessageOutcome]) -> None:
    from workers.app import app

    final, progress = runtime.run(_complete(bulk_id, chunk_no, outcomes))
    if progress is not None:
        events.bulk_progress(task, bulk_id, progress["done"], progress["total"])
    if final is not None:
        final = with_truth(final)
        app.backend.store_result(bulk_id, final, "SUCCESS")
        totals = {k: v for k, v in final.items() if k != "messages"}
        events.bulk_finished(task, bulk_id, totals)
        log.info("bulk %s finished: %s", bulk_id, totals)
