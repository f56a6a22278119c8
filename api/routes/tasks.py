"""What happened to a call: `GET /tasks/{id}` and recent tasks of a connected integration."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query

from api.deps import OperatorDep, RedisDep
from api.errors import GatewayError
from jobs import bulk, held
from jobs.records import RESULT_KEY_PREFIX, TASK_INDEX_PREFIX, TASK_RECORD_PREFIX
from schemas.envelope import CONNECTED_INTEGRATION_ID

router = APIRouter(tags=["tasks"])


def _error_text(result: Any) -> str:
    if not isinstance(result, dict):
        return str(result)
    message = result.get("exc_message")
    if isinstance(message, list | tuple):
        message = " ".join(map(str, message))
    return f"{result.get('exc_type', 'Error')}: {message}"


def _view(task_id: str, record: dict[str, Any] | None, meta: dict[str, Any] | None) -> dict[str, Any]:
    state = meta.get("status") if meta else "PENDING"
    view: dict[str, Any] = {"task_id": task_id, "state": state}
    if record:
        view.update(
            {
                k: record.get(k)
                for k in (
                    "name",
                    "client",
                    "connected_integration_id",
                    "action",
                    "event_id",
                    "request_id",
                    "argsrepr",
                    "created_at",
                )
                if record.get(k) is not None
            }
        )
    if meta:
        view["retries"] = meta.get("retries") or 0
        if meta.get("date_done"):
            view["date_done"] = meta["date_done"]
        if state == "FAILURE":
            view["error"] = _error_text(meta.get("result"))
        elif state == "PROGRESS":
            view["progress"] = meta.get("result")
        elif state in ("SUCCESS", "RETRY", "STARTED"):
            if state == "RETRY":
                view["error"] = _error_text(meta.get("result"))
            else:
                view["result"] = meta.get("result")
    return view


async def _load(redis: Any, task_ids: list[str]) -> list[tuple[dict[str, Any] | None, dict[str, Any] | None]]:
    keys = [TASK_RECORD_PREFIX + t for t in task_ids] + [RESULT_KEY_PREFIX + t for t in task_ids]
    raws = await redis.mget(keys) if keys else []
    n = len(task_ids)
    return [
        (orjson.loads(raws[i]) if raws[i] else None, orjson.loads(raws[n + i]) if raws[n + i] else None)
        for i in range(n)
    ]


@router.get("/tasks/{task_id}", summary="State, progress and result of one task")
async def get_task(task_id: Annotated[str, Query(max_length=100)] | str, _: OperatorDep, redis: RedisDep) -> dict:
    ((record, meta),) = await _load(redis, [task_id])
    if record is None and meta is None:
        raise GatewayError(404, f"no task {task_id!r} (unknown, or its result expired)")
    view = _view(task_id, record, meta)
    progress = await bulk.progress(redis, task_id)
    if progress is not None:
        view["children"] = [f"{task_id}:{n}" for n in range(progress["chunks"])]
        if view["state"] not in ("SUCCESS", "FAILURE"):
            view["state"] = "PROGRESS"
            view["progress"] = {"done": progress["done"], "total": progress["total"]}
    held_record = await held.load(redis, task_id)
    if held_record is not None:  # unknown outcomes waiting for an operator (POST /admin/held/{id}/resend)
        view["held"] = held.public_view(held_record)
    return view


@router.get("/tasks", summary="Recent tasks of one connected integration")
async def list_tasks(
    _: OperatorDep,
    redis: RedisDep,
    connected_integration_id: Annotated[str, Query(pattern=CONNECTED_INTEGRATION_ID)],
    client: str | None = None,
    state: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    ids = [i.decode() for i in await redis.zrevrange(TASK_INDEX_PREFIX + connected_integration_id.lower(), 0, 499)]
    tasks = []
    for task_id, (record, meta) in zip(ids, await _load(redis, ids), strict=True):
        view = _view(task_id, record, meta)
        view.pop("result", None)  # listings stay small; read one task for its result
        if (client is None or view.get("client") == client) and (state is None or view["state"] == state.upper()):
            tasks.append(view)
        if len(tasks) >= limit:
            break
    return {"tasks": tasks}
