"""Every error answer uses the REGOS envelope: {"ok": false, "result": {"error", "description"}}."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException

T = TypeVar("T")


class GatewayError(Exception):
    """Raise anywhere in a route to answer `status` with the error envelope."""

    def __init__(self, status: int, description: str, *, details: Any = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.details = details


async def read_redis(read: Awaitable[T], seconds: float) -> T:
    """A read operators wait on, bounded by `seconds`: Redis away or too slow answers 503."""
    try:
        return await asyncio.wait_for(read, seconds)
    except (RedisError, OSError, TimeoutError) as exc:
        raise GatewayError(503, f"Redis unreachable: {type(exc).__name__}") from None


def envelope(status: int, description: str, details: Any = None) -> JSONResponse:
    result: dict[str, Any] = {"error": status, "description": description}
    if details is not None:
        result["details"] = details
    return JSONResponse({"ok": False, "result": result}, status_code=status)


def _describe_validation(errors: list[Any]) -> list[str]:
    return [f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}" for e in errors]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def _gateway(_: Request, exc: GatewayError) -> JSONResponse:
        return envelope(exc.status, exc.description, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = _describe_validation(list(exc.errors()))
        return envelope(422, "request is not valid: " + "; ".join(problems[:10]), problems[:50])

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return envelope(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return envelope(500, "internal error; the call was not queued, retry later")
