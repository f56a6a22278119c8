"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import RedisDep, SettingsDep
from api.errors import read_redis
from redis_durability import read_async, refuses

router = APIRouter(tags=["health"])


@router.get("/health", summary="The process is alive")
async def health() -> dict[str, Any]:
    return {"ok": True}


@router.get(
    "/ready",
    summary="Redis reachable and its durability (503 if unreachable, or non-durable in production)",
)
async def ready(redis: RedisDep, settings: SettingsDep) -> JSONResponse:
    durability = await read_redis(read_async(redis), settings.enqueue_timeout_seconds)
    report = durability.as_dict()
    if refuses(settings, durability):  # e.g. Redis restarted without its AOF since the API started
        description = "Redis can lose acknowledged work: " + "; ".join(durability.problems)
        return JSONResponse(
            {"ok": False, "result": {"error": 503, "description": description, "durability": report}},
            status_code=503,
        )
    return JSONResponse({"ok": True, "result": {"redis": "ok", "durability": report}})
