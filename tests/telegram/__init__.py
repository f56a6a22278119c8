"""Helpers for the Telegram tests: the notifier against FakeRegos and FakeTelegram over HTTP,
with the private Redis of the session. No pytest-asyncio: each call runs in `asyncio.run`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx2
import orjson
from redis.asyncio import Redis

from integrations.base import IntegrationContext
from integrations.regos_telegram_notifier import TelegramNotifierIntegration
from schemas.envelope import WebhookCall
from settings import Settings
from tests.fakes.regos import FakeRegos
from tests.fakes.telegram import FakeTelegram

T = TypeVar("T")
KEY = "regos_telegram_notifier"
SECRET = "telegram-tests-secret-key-0123456789abcdef"


@dataclass
class Env:
    cid: str
    token: str
    settings: Settings
    regos: FakeRegos
    tg: FakeTelegram

    def configure(self, **values: Any) -> None:
        """Settings of this connected integration in REGOS (CHAT_IDS given as a list)."""
        with self.regos.lock:
            current = self.regos.settings.setdefault(self.cid, {})
            for key, value in values.items():
                current[key] = orjson.dumps(value).decode() if isinstance(value, list) else str(value)

    def chat_ids(self) -> list[str]:
        with self.regos.lock:
            raw = self.regos.settings[self.cid].get("CHAT_IDS") or "[]"
        return [str(c) for c in orjson.loads(raw)]

    def call(self, fn: Callable[[TelegramNotifierIntegration], Awaitable[T]], *, event_id: str | None = None) -> T:
        return asyncio.run(with_integration(self, fn, event_id=event_id))

    def webhook(self, action: str, uuid_: str, *, event_id: str | None = None) -> Any:
        call = WebhookCall(action=action, data={"uuid": uuid_})
        return self.call(lambda i: i.handle_webhook(call), event_id=event_id)


async def with_integration(
    env: Env,
    fn: Callable[[TelegramNotifierIntegration], Awaitable[T]],
    *,
    event_id: str | None = None,
    close_shared: bool = True,
) -> T:
    """Run `fn` on a fresh integration; `close_shared=False` when several run concurrently on one loop
    (the SDK's per-loop clients are shared: close them once, at the end)."""
    from regos_sdk import aclose_shared

    redis = Redis.from_url(env.settings.redis_url)
    http = httpx2.AsyncClient()
    try:
        ctx = IntegrationContext(
            client=KEY,
            connected_integration_id=env.cid,
            settings=env.settings,
            redis=redis,
            http=http,
            request_id="test",
            task_id=f"task-{uuid.uuid4().hex[:8]}",
            event_id=event_id,
        )
        return await fn(TelegramNotifierIntegration(ctx))
    finally:
        await http.aclose()
        await redis.aclose()
        if close_shared:
            await aclose_shared()


def make_settings(redis_url: str, regos: FakeRegos, tg: FakeTelegram, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        environment="test",
        redis_url=redis_url,
        telegram_api_base_url=tg.url,
        public_base_url="https://gateway.example:8443",  # Telegram's webhook rules: https, port 8443
        gateway_secret_key=SECRET,
        regos_rate_limit_per_second=1000,
        regos_rate_limit_burst=1000,
        provider_timeout_seconds=5.0,
        **regos.settings_kwargs(),
    )
    values.update(overrides)
    return Settings(**values)


def new_chat() -> str:
    """A fresh private-chat id, so per-chat rate limits never carry over between tests."""
    return str(uuid.uuid4().int % 10**12 + 10**9)
