"""The yardstick of issue 15: a minimal *durable* ingress, for benchmarks only.

    uvicorn bench.minimal_ingress:app   (REDIS_URL from the environment)

FastAPI reading the body, one `LPUSH` of it to Redis, an orjson answer shaped like the
gateway's (`{"ok": true, "result": {"status": "queued", "task_id": ...}}`, a fresh id per call so
the load generator can check every answer). No validation, dedupe, task record, log line or
metrics: whatever HandleWebhook costs beyond this is the gateway's own work.
bench/ingress.py runs it in the same run, with the same uvicorn flags and core, as the bare
endpoint (bench/bare_app.py) and HandleWebhook. Never used in production.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI, Request, Response
from redis.asyncio import Redis

QUEUE = "bench:minimal"  # flushed between benchmark runs; bench/ingress.py checks its length


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Pooled like the gateway's client (api/app.py), so both pay the same connection costs.
    app.state.redis = Redis.from_url(os.environ["REDIS_URL"], max_connections=512)
    yield
    await app.state.redis.aclose()


# FastAPI's OpenTelemetry hooks off, as in the gateway (api/app.py): on, they read os.environ on
# every request, and the yardstick must not be handicapped by what the gateway already avoids.
app = FastAPI(lifespan=lifespan, openapi_url=None, telemetry={"tracing": False, "metrics": False, "logs": False})


@app.post("/minimal")
async def minimal(request: Request) -> Response:
    body = await request.body()
    await request.app.state.redis.lpush(QUEUE, body)
    answer = {"ok": True, "result": {"status": "queued", "task_id": str(uuid.uuid4())}}
    return Response(orjson.dumps(answer), media_type="application/json")


@app.get("/health")
async def health() -> Response:
    return Response(b'{"ok":true}', media_type="application/json")
