"""Helpers for the SMS tests: run an integration method against a private Redis and fakes.

No pytest-asyncio here: each test drives its coroutine with `asyncio.run`, and `run_integration`
builds the clients on that loop and closes them (and the SDK's per-loop clients) at the end.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx2
from redis.asyncio import Redis

from integrations.base import IntegrationContext, MessagingIntegrationBase
from schemas.envelope import OutgoingMessage
from settings import Settings

T = TypeVar("T")


def new_cid() -> str:
    return uuid.uuid4().hex


def make_settings(redis_url: str, regos: Any, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        environment="test",
        redis_url=redis_url,
        regos_rate_limit_per_second=1000,
        regos_rate_limit_burst=1000,
        public_base_url="http://127.0.0.1:9",
        provider_timeout_seconds=5.0,
        **regos.settings_kwargs(),
    )
    values.update(overrides)
    return Settings(**values)


def messages(n: int, *, start: int = 0, text: str = "Salom! Kod: {i}") -> list[OutgoingMessage]:
    return [
        OutgoingMessage(index=i, recipient=f"99890{i:07d}", message=text.format(i=i)) for i in range(start, start + n)
    ]


async def with_integration(
    cls: type[MessagingIntegrationBase],
    settings: Settings,
    cid: str,
    fn: Callable[[Any], Awaitable[T]],
) -> T:
    from regos_sdk import aclose_shared

    redis = Redis.from_url(settings.redis_url)
    http = httpx2.AsyncClient()
    try:
        ctx = IntegrationContext(cls.key, cid, settings, redis, http, request_id="test")
        return await fn(cls(ctx))
    finally:
        await http.aclose()
        await redis.aclose()
        await aclose_shared()


def run(cls: type[MessagingIntegrationBase], settings: Settings, cid: str, fn: Callable[[Any], Awaitable[T]]) -> T:
    return asyncio.run(with_integration(cls, settings, cid, fn))


def chunk(cid: str, name: str) -> str:
    """A chunk id unique to the connected integration, like the glue's `{client}:{cid}:{dedupe}:{n}`."""
    return name if cid in name else f"{cid}:{name}"


def send(cls: type[MessagingIntegrationBase], settings: Settings, cid: str, chunk_id: str, msgs: list[OutgoingMessage]):
    return run(cls, settings, cid, lambda integration: integration.send_chunk(chunk(cid, chunk_id), msgs))


ESKIZ_EMAIL, ESKIZ_PASSWORD = "shop@example.uz", "eskiz-pass-S3cret"
