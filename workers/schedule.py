"""Scheduled work (Celery beat with celery-redbeat: the schedule and its lock live in Redis, so a
second beat process waits instead of doubling the ticks).

EDO automatic import: every AUTO_IMPORT_INTERVAL the beat task enqueues one poll per
auto-importing connected integration (integrations/edo/auto_import.py) and does nothing else.
The poll lists the provider's recent incoming documents and enqueues an ordinary ImportDocument
job for each one not enqueued before (the publisher's dedupe key); the import itself is
idempotent (integrations/edo/flows.py), so a document enqueued twice still makes one invoice.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from integrations.base import IntegrationBase
from integrations.edo import auto_import
from integrations.edo.base import EdoIntegrationBase
from integrations.errors import PermanentError
from jobs import names
from jobs.publish import Publisher
from schemas.envelope import TaskEnvelope
from workers.execution import execute
from workers.gateway_task import GatewayTask
from workers.runtime import runtime

log = logging.getLogger("workers.schedule")

POLL_ACTION = "poll_imports"


def enqueue_polls() -> list[str]:
    """The beat task: one poll task per auto-importing connected integration; returns their ids."""
    ids = runtime.run(_enqueue_polls())
    if ids:
        log.info("auto-import: %d polls enqueued", len(ids))
    return ids


async def _enqueue_polls() -> list[str]:
    res = runtime.resources()
    publisher = Publisher(res.redis, record_ttl=res.settings.result_expires_seconds)
    ids = []
    for key, cid, firm_ids in await auto_import.entries(res.redis):
        envelope = TaskEnvelope(
            client=key,
            action=POLL_ACTION,
            connected_integration_id=cid,
            data={"firm_ids": firm_ids},
            request_id=uuid.uuid4().hex,
            received_at=time.time(),
        )
        argsrepr = f"{key} {cid} poll firms {firm_ids}"
        published = await publisher.publish(
            names.EDO_POLL_IMPORTS,
            {"envelope": envelope.model_dump()},
            argsrepr=argsrepr,
            record={"client": key, "connected_integration_id": cid, "action": POLL_ACTION, "argsrepr": argsrepr},
            task_id=f"edo-poll:{key}:{cid}:{uuid.uuid4().hex}",
            request_id=envelope.request_id,
        )
        ids.append(published.task_id)
    return ids


async def _poll(integration: IntegrationBase, envelope: TaskEnvelope) -> dict[str, Any]:
    """Enqueue the import of each firm's new documents; a firm the provider refuses is reported
    and the others still run (a refused password is not retried: Didox locks accounts, §2.1)."""
    if not isinstance(integration, EdoIntegrationBase):
        raise PermanentError(f"{envelope.client} is not an EDO integration")
    res = runtime.resources()
    publisher = Publisher(res.redis, record_ttl=res.settings.result_expires_seconds)
    enqueued: dict[str, list[str]] = {}
    refused: dict[str, str] = {}
    for firm_id in envelope.data["firm_ids"]:
        try:
            document_ids = await integration.new_documents(firm_id)
        except PermanentError as exc:
            log.error("auto-import %s %s firm %s: %s", envelope.client, integration.cid, firm_id, exc)
            refused[str(firm_id)] = str(exc)
            continue
        enqueued[str(firm_id)] = [
            document_id
            for document_id in document_ids
            if await _enqueue_import(publisher, envelope, firm_id, document_id)
        ]
    return {"enqueued": enqueued, "refused": refused}


async def _enqueue_import(publisher: Publisher, poll: TaskEnvelope, firm_id: int, document_id: str) -> bool:
    """An ImportDocument job exactly as REGOS would queue it; False when enqueued before."""
    envelope = poll.model_copy(
        update={
            "action": "import_document",
            "data": {"id": document_id, "firm_id": firm_id},
            "received_at": time.time(),
        }
    )
    argsrepr = f"{poll.client} {poll.connected_integration_id} import_document id={document_id} firm_id={firm_id} auto"
    published = await publisher.publish(
        names.RUN_ACTION,
        {"envelope": envelope.model_dump()},
        argsrepr=argsrepr,
        record={
            "client": poll.client,
            "connected_integration_id": poll.connected_integration_id,
            "action": "import_document",
            "request_id": poll.request_id,
            "argsrepr": argsrepr,
        },
        dedupe_key=auto_import.dedupe_key(poll.client, poll.connected_integration_id, firm_id, document_id),
        dedupe_ttl=auto_import.SEEN_TTL,
        request_id=poll.request_id,
    )
    return not published.duplicate


def poll(task: GatewayTask, envelope_data: dict[str, Any]) -> Any:
    return execute(task, envelope_data, _poll)
