"""The ASGI app: `uvicorn api.app:app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis.asyncio import Redis

from api.errors import install_error_handlers
from api.routes import admin, clients, health, ops, tasks
from logconfig import configure_logging
from settings import Settings, get_settings
from workers.publish import Publisher


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await app.state.redis.aclose()

    app = FastAPI(
        title="REGOS integrations gateway",
        version="0.1.0",
        description="Queues REGOS actions and provider callbacks for the integration workers.",
        lifespan=lifespan,
    )
    # One pooled client per process; timeouts keep a hung Redis from hanging requests.
    app.state.settings = settings
    app.state.redis = Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.enqueue_timeout_seconds,
        socket_connect_timeout=settings.enqueue_timeout_seconds,
        max_connections=512,
    )
    app.state.publisher = Publisher(app.state.redis, record_ttl=settings.result_expires_seconds)
    install_error_handlers(app)
    for module in (clients, tasks, admin, health):
        app.include_router(module.router)
    ops.install(app)  # GET /metrics, GET /admin/queues and the request-metrics middleware
    return app


app = create_app()
