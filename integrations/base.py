"""Base classes every integration derives from.

An integration is instantiated by a worker for one call of one connected integration, with an
`IntegrationContext` holding what it may use: settings, the process's shared Redis and HTTP
clients, and a factory for the REGOS SDK bound to that connected integration. Methods are
`async` and return `IntegrationResult` models; failures are raised as `integrations.errors`
(or the SDK's `RegosError`s), which the task layer turns into retry or failure.
Integrations never see HTTP requests of the ingress, queues or Celery.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import httpx2
from redis.asyncio import Redis

from regos_sdk import RegosAPI
from schemas.envelope import (
    ExternalRequest,
    IntegrationErrorResponse,
    IntegrationResult,
    IntegrationSuccessResponse,
    MessageOutcome,
    OutgoingMessage,
    WebhookCall,
)
from settings import Settings

UNSUPPORTED = 400


@dataclass(frozen=True)
class IntegrationContext:
    client: str
    connected_integration_id: str
    settings: Settings
    redis: Redis
    http: httpx2.AsyncClient
    request_id: str = ""
    task_id: str = ""
    event_id: str | None = None

    def regos(self) -> RegosAPI:
        """A REGOS API facade for this connected integration (use as `async with`)."""
        return RegosAPI(
            self.connected_integration_id, settings=self.settings, redis=self.redis, request_id=self.request_id or None
        )


class IntegrationBase:
    """Lifecycle, webhooks and external calls. Override what the integration supports."""

    key: ClassVar[str]

    def __init__(self, ctx: IntegrationContext) -> None:
        self.ctx = ctx

    @property
    def cid(self) -> str:
        return self.ctx.connected_integration_id

    async def settings_map(self) -> Mapping[str, str]:
        """This connected integration's settings from REGOS (case-insensitive keys, cached briefly)."""
        async with self.ctx.regos() as api:
            return await api.integrations.connected_integration_setting.get_map()

    # --- lifecycle -----------------------------------------------------------------------
    async def connect(self) -> IntegrationResult:
        return IntegrationSuccessResponse(result={"status": "connected"})

    async def disconnect(self) -> IntegrationResult:
        return IntegrationSuccessResponse(result={"status": "disconnected"})

    async def reconnect(self) -> IntegrationResult:
        await self.disconnect()
        return await self.connect()

    async def update_settings(self) -> IntegrationResult:
        return IntegrationSuccessResponse(result={"status": "settings updated"})

    # --- events --------------------------------------------------------------------------
    async def handle_webhook(self, webhook: WebhookCall) -> IntegrationResult:
        return IntegrationErrorResponse.of(UNSUPPORTED, f"unsupported webhook {webhook.action} for {self.key}")

    async def handle_external(self, request: ExternalRequest) -> IntegrationResult:
        return IntegrationErrorResponse.of(UNSUPPORTED, f"{self.key} accepts no external calls")


class MessagingIntegrationBase(IntegrationBase):
    """Integrations that deliver `SendMessages`.

    The worker validates the messages, splits them into chunks of `chunk_size`, and runs
    `send_chunk` for each chunk as its own task, so chunks retry independently. `send_chunk`
    must be idempotent per message through `integrations.ledger.EffectLedger` using
    `effect_id(chunk_id, message)`, so a retried or redelivered chunk never sends twice.
    """

    chunk_size: ClassVar[int] = 50
    # True when the provider ignores a repeated message id (an idempotency key): then a send whose
    # outcome was lost is simply sent again with the same id (`integrations.sms.dispatch`).
    deduplicates_by_id: ClassVar[bool] = False

    @staticmethod
    def effect_id(chunk_id: str, message: OutgoingMessage) -> str:
        return f"{chunk_id}:{message.index}"

    async def send_chunk(self, chunk_id: str, messages: list[OutgoingMessage]) -> list[MessageOutcome]:
        raise NotImplementedError


class SmsIntegrationBase(MessagingIntegrationBase):
    """SMS providers: recipients are normalised phone numbers (digits only)."""


class TelegramIntegrationBase(MessagingIntegrationBase):
    """Telegram bots: recipients are chat ids."""

    chunk_size: ClassVar[int] = 20
