"""Reading request bodies with a size cap, before any parsing."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import Request

from api.errors import GatewayError


async def read_capped(request: Request, limit: int) -> bytes:
    """The raw body, or 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise GatewayError(413, f"body is larger than {limit} bytes (MAX_BODY_BYTES)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise GatewayError(413, f"body is larger than {limit} bytes (MAX_BODY_BYTES)")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise GatewayError(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise GatewayError(400, "body must be a JSON object with action, connected_integration_id and data")
    return value


def parse_any(raw: bytes, content_type: str) -> Any:
    """A provider callback body as the integration wants it: JSON, form fields, or text."""
    if not raw:
        return None
    if "application/x-www-form-urlencoded" in content_type:
        return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")
