"""The ASGI app: `uvicorn api.app:app`."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.deps import Ingress
from api.errors import install_error_handlers
from api.routes import admin, clients, health, held, ops, tasks
from jobs.publish import Publisher
from kit import redis as redis_clients
from logconfig import configure_logging
from redis_durability import check_at_startup
from settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    # Before the first request: a 200 promises durability only this Redis can keep.
    check_at_startup(settings, "api")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Everything loaded so far lives as long as the process: keep it out of the cyclic GC's
        # full collections, whose pauses showed up in the ingress's p99 (docs/performance.md).
        gc.freeze()
        yield
        await app.state.ingress.redis.aclose()

    app = FastAPI(
        title="REGOS integrations gateway",
        version="0.1.0",
        description="Queues REGOS actions and provider callbacks for the integration workers.",
        lifespan=lifespan,
        # No OpenTelemetry here (Prometheus is at /metrics); off, FastAPI skips its per-request
        # provider checks and never exports exception messages that could carry secrets.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    # One pooled client per process; timeouts keep a hung Redis from hanging requests.
    redis = redis_clients.client(settings.redis_url, timeout=settings.enqueue_timeout_seconds, max_connections=512)
    app.state.ingress = Ingress(settings, redis, Publisher(redis, record_ttl=settings.result_expires_seconds))
    install_error_handlers(app)
    for module in (clients, tasks, admin, held, health):
        app.include_router(module.router)
    ops.install(app)  # GET /metrics, GET /admin/queues and the request-metrics middleware
    return app


def __getattr__(name: str) -> FastAPI:
    """`uvicorn api.app:app` builds the app on first access: importing `create_app` (tests,
    benchmarks) then neither reads this environment's settings nor asks its Redis anything."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    global app
    app = create_app()
    return app
