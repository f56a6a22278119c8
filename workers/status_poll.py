"""Delivery statuses polled from providers that do not call back (GetSMS).

After a chunk, the accepted messages' provider ids go to one `integrations.poll_sms_status`
task. It asks the provider (`integration.poll_statuses(ids)`, which stores what it learns in
`integrations.sms.status`) and schedules itself again for the ids without a final status,
every `POLL_INTERVAL_SECONDS` (never longer than a retry countdown may be: an ETA held past the
visibility timeout is handed to a second worker), at most `MAX_POLLS` times: bounded work for
messages whose status never becomes final.
"""

from __future__ import annotations

import logging
from typing import Any

from integrations import registry
from jobs import names
from schemas.envelope import MessageOutcome, TaskEnvelope
from settings import get_settings
from workers.execution import execute
from workers.gateway_task import GatewayTask

log = logging.getLogger("workers.status_poll")

POLL_INTERVAL_SECONDS = 30.0
MAX_POLLS = 20


def _interval() -> float:
    return min(POLL_INTERVAL_SECONDS, get_settings().max_retry_countdown_seconds)


def _schedule(envelope: TaskEnvelope, request_ids: list[str], attempt: int) -> None:
    from workers.app import app

    head = envelope.model_copy(update={"action": "poll_statuses", "data": None, "event_id": None})
    app.send_task(
        names.POLL_SMS_STATUS,
        kwargs={"envelope": head.model_dump(), "request_ids": request_ids, "attempt": attempt},
        countdown=_interval(),
        argsrepr=f"{envelope.client} {envelope.connected_integration_id} {len(request_ids)} statuses "
        f"(poll {attempt + 1}/{MAX_POLLS})",
        kwargsrepr="{}",
    )


def after_chunk(envelope: TaskEnvelope, outcomes: list[MessageOutcome]) -> None:
    """Start polling for the chunk's accepted messages, if the integration polls statuses."""
    if not getattr(registry.load_class(envelope.client), "polls_statuses", False):
        return
    ids = [o.provider_id for o in outcomes if o.status == "accepted" and o.provider_id]
    if ids:
        _schedule(envelope, ids, 0)


def poll(task: GatewayTask, envelope_data: dict[str, Any], request_ids: list[str], attempt: int) -> dict[str, Any]:
    async def invoke(integration: Any, envelope: TaskEnvelope) -> dict[str, Any]:
        return await integration.poll_statuses(request_ids)

    found = execute(task, envelope_data, invoke)
    pending = [r for r in request_ids if r not in found["final"]]
    if pending and attempt + 1 < MAX_POLLS:
        _schedule(TaskEnvelope.model_validate(envelope_data), pending, attempt + 1)
    elif pending:
        log.warning("%d statuses still not final after %d polls: stopped", len(pending), MAX_POLLS)
    return {"polled": len(request_ids), "final": len(found["final"]), "pending": len(pending), "attempt": attempt}
