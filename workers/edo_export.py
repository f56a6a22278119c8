"""EDO ExportDocuments as a fan-out: the parent checks and dispatches, one task per invoice.

Same machinery as SendMessages (jobs/bulk.py): `gw:bulk:{parent id}` counts finished
documents, and the task that finishes the last one stores the aggregated result under the
parent's id — the id REGOS got — which shows PROGRESS `{done, total}` meanwhile. The parent
raises `Ignore` after dispatching, so Celery never overwrites that result with its own.

Document task ids are deterministic (`{parent id}:{n}`) and completing one is idempotent, so a
redelivered parent or a retried document counts each invoice once; the export itself is
idempotent per invoice (integrations/edo/flows.py).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from celery.exceptions import Ignore

from integrations.edo.base import EdoIntegrationBase
from jobs import bulk
from schemas.envelope import TaskEnvelope
from settings import get_settings
from workers import events
from workers.execution import bind_task, build_integration
from workers.gateway_task import GatewayTask, TaskFailed
from workers.runtime import runtime

log = logging.getLogger("workers.edo_export")

OUTCOMES = ("exported", "skipped", "refused", "failed")


async def _edo(envelope: TaskEnvelope, task_id: str) -> EdoIntegrationBase:
    integration = await build_integration(envelope, task_id)
    if not isinstance(integration, EdoIntegrationBase):
        raise TaskFailed(f"{envelope.client} is not an EDO integration")
    return integration


def fan_out(task: GatewayTask, envelope_data: dict[str, Any], document_task: Task) -> None:
    envelope = TaskEnvelope.model_validate(envelope_data)
    bulk_id = task.request.id or ""
    ttl = get_settings().result_expires_seconds
    with bind_task(envelope, task):

        async def plan() -> tuple[int, list[int], bool]:
            integration = await _edo(envelope, bulk_id)
            firm_id, ids = integration.export_plan(envelope.data)
            await integration.prepare_export(firm_id)
            redis = runtime.resources().redis
            fresh = await bulk.start(redis, bulk_id, total=len(ids), chunks=len(ids), invalid=[], ttl=ttl)
            return firm_id, ids, fresh

        firm_id, ids, fresh = task.attempt(plan())
        if not fresh:
            log.info("export %s already finished; nothing to dispatch", bulk_id)
            raise Ignore()
        task.update_state(state="PROGRESS", meta={"done": 0, "total": len(ids)})
        head = envelope.model_copy(update={"data": {"firm_id": firm_id}}).model_dump()
        for n, invoice_id in enumerate(ids):
            document_task.apply_async(
                kwargs={"envelope": head, "bulk_id": bulk_id, "document_no": n, "invoice_id": invoice_id},
                task_id=f"{bulk_id}:{n}",
                argsrepr=f"{envelope.client} {envelope.connected_integration_id} invoice {invoice_id} "
                f"({n + 1}/{len(ids)})",
                kwargsrepr="{}",
            )
        log.info("export of %d invoices dispatched", len(ids))
        raise Ignore()  # the last document task stores the parent's result


def export_document(
    task: GatewayTask, envelope_data: dict[str, Any], bulk_id: str, document_no: int, invoice_id: int
) -> dict[str, Any]:
    envelope = TaskEnvelope.model_validate(envelope_data)
    firm_id = int(envelope.data["firm_id"])
    task_id = task.request.id or ""
    with bind_task(envelope, task):

        async def run() -> dict[str, Any]:
            integration = await _edo(envelope, task_id)
            return await integration.export_document(firm_id, invoice_id)

        def count_failed(error: TaskFailed) -> None:  # retries exhausted: the invoice is over, count it
            _record(task, bulk_id, document_no, {"invoice_id": invoice_id, "status": "failed", "error": str(error)})

        row = task.attempt(run(), gave_up=count_failed)
        _record(task, bulk_id, document_no, row)
        return row


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The parent's final result: counts by outcome and one row per invoice, in request order."""
    rows = sorted(rows, key=lambda row: row["index"])
    counts = {outcome: sum(1 for r in rows if r["status"] == outcome) for outcome in OUTCOMES}
    return {
        "ok": counts["refused"] + counts["failed"] == 0,
        "result": {"total": len(rows), **counts, "documents": rows},
    }


async def _complete(bulk_id: str, document_no: int, row: dict[str, Any]) -> tuple[dict | None, dict | None]:
    redis = runtime.resources().redis
    ttl = get_settings().result_expires_seconds
    finished = await bulk.complete_rows(redis, bulk_id, document_no, [{"index": document_no, **row}], ttl)
    final = summary(await bulk.all_rows(redis, bulk_id)) if finished else None
    return final, await bulk.progress(redis, bulk_id)


def _record(task: Task, bulk_id: str, document_no: int, row: dict[str, Any]) -> None:
    final, progress = runtime.run(_complete(bulk_id, document_no, row))
    if progress is not None:  # GET /tasks/{id} reads progress from the bulk hash itself
        events.bulk_progress(task, bulk_id, progress["done"], progress["total"])
    if final is not None:
        task.app.backend.store_result(bulk_id, final, "SUCCESS")
        totals = {k: v for k, v in final["result"].items() if k != "documents"}
        events.bulk_finished(task, bulk_id, totals)
        log.info("export %s finished: %s", bulk_id, totals)
