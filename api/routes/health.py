"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from api.deps import RedisDep, SettingsDep

router = APIRouter(tags=["health"])


@router.get("/health", summary="The process is alive")
async def health() -> dict[str, Any]:
    return {"ok": True}


@router.get("/ready", summary="Broker and result backend reachable (503 otherwise)")
async def ready(redis: RedisDep, settings: SettingsDep) -> JSONResponse:
    try:
        await asyncio.wait_for(redis.ping(), settings.enqueue_timeout_seconds)
    except (RedisError, OSError, TimeoutError) as exc:
        return JSONResponse(
            {"ok": False, "result": {"error": 503, "description": f"Redis unreachable: {type(exc).__name__}"}},
            status_code=503,
        )
    return JSONResponse({"ok": True, "result": {"redis": "ok"}})
