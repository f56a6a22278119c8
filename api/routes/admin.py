"""Dead letters: list failed work and replay it (operator token required)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import OperatorDep, PublisherDep, RedisDep
from api.errors import GatewayError
from jobs import dead_letters
from jobs.replay import replay_letter

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/dead-letters", summary="Tasks that failed for good, newest first")
async def list_dead_letters(
    _: OperatorDep,
    redis: RedisDep,
    client: str | None = None,
    connected_integration_id: str | None = None,
    task_name: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    letters = await dead_letters.recent(
        redis, limit=limit, client=client, connected_integration_id=connected_integration_id, task_name=task_name
    )
    return {"dead_letters": [{k: v for k, v in letter.items() if k != "kwargs"} for letter in letters]}


@router.post("/dead-letters/{letter_id}/replay", summary="Enqueue a dead letter's work again")
async def replay_dead_letter(letter_id: str, _: OperatorDep, redis: RedisDep, publisher: PublisherDep) -> dict:
    letter = await dead_letters.get(redis, letter_id)
    if letter is None:
        raise GatewayError(404, f"no dead letter {letter_id!r} (unknown or expired)")
    task_id = await replay_letter(redis, publisher, letter)
    return {"ok": True, "result": {"status": "queued", "task_id": task_id, "replayed": letter_id}}
