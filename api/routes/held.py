"""Messages held for an operator (unknown GetSMS outcomes): list and re-send (operator token)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import OperatorDep, PublisherDep, RedisDep, SettingsDep
from api.errors import GatewayError
from jobs import held, replay
from jobs.replay import NothingHeld

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/held", summary="Bulk sends with messages whose outcome is unknown, held for a decision")
async def list_held(
    _: OperatorDep,
    redis: RedisDep,
    client: str | None = None,
    connected_integration_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    rows = await held.recent(redis, limit=limit, client=client, connected_integration_id=connected_integration_id)
    return {"held": rows}


@router.post("/held/{bulk_id}/resend", summary="Re-send a bulk's held messages as a new task")
async def resend_held(
    bulk_id: str, _: OperatorDep, redis: RedisDep, publisher: PublisherDep, settings: SettingsDep
) -> dict[str, Any]:
    try:
        task_id = await replay.resend_held(redis, publisher, bulk_id, ttl=settings.pii_retention_seconds)
    except NothingHeld as exc:
        raise GatewayError(404, str(exc)) from None
    return {"ok": True, "result": {"status": "queued", "task_id": task_id, "resend_of": bulk_id}}
