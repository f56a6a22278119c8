"""Base classes every integration derives from.

An integration is instantiated by a worker for one call of one connected integration, with an
`IntegrationContext` holding what it may use: settings, the process's shared Redis and HTTP
clients, and a factory for the REGOS SDK bound to that connected integration. Methods are
`async` and return `IntegrationResult` models; failures are raised as `integrations.errors`
(or the SDK's `RegosError`s), which the task layer turns into retry or failure.
Integrations never see HTTP requests of the ingress, queues or Celery.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import httpx2
from redis.asyncio import Redis

from integrations.connected_settings import missing, require
from integrations.errors import SettingsError
from integrations.sms.dispatch import ChunkResult, Pending, send_exactly_once
from regos_sdk import RegosAPI
from schemas.envelope import (
    ExternalRequest,
    IntegrationErrorResponse,
    IntegrationResult,
    IntegrationSuccessResponse,
    MessageOutcome,
    OutgoingMessage,
    WebhookCall,
    WebhookEvent,
)
from settings import MissingSettingError, Settings

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


class _RegistryKey:
    """`cls.key`: the key the registry (integrations/registry.py) gives the class, so it is written once."""

    def __get__(self, instance: object, owner: type[IntegrationBase]) -> str:
        from integrations.registry import key_of  # the registry names classes; loaded on first use

        return key_of(owner)


class IntegrationBase:
    """Lifecycle, webhooks and external calls. Override what the integration supports.

    What an integration declares, the framework provides for: `required_settings` (names in REGOS,
    checked by `required_settings_map` / `missing_settings`), `base_url_env` and `base_url_default`
    (the variable naming its provider's address: `self.base_url`), `metrics_target` (its label in
    the outbound-call metrics). `key` and `label` come from the registry.
    """

    key: ClassVar[str] = _RegistryKey()  # type: ignore[assignment]
    required_settings: ClassVar[tuple[str, ...]] = ()
    base_url_env: ClassVar[str | None] = None
    base_url_default: ClassVar[str | None] = None
    metrics_target: ClassVar[str | None] = None

    def __init__(self, ctx: IntegrationContext) -> None:
        self.ctx = ctx

    @property
    def cid(self) -> str:
        return self.ctx.connected_integration_id

    @property
    def label(self) -> str:
        """How errors and logs name this integration and connected integration."""
        return f"{self.key} for connected integration {self.cid}"

    @property
    def base_url(self) -> str:
        """The provider's address from the variable `base_url_env`; SettingsError when unset."""
        assert self.base_url_env, f"{type(self).__name__} declares no base_url_env"
        try:
            return self.ctx.settings.base_url(
                self.base_url_env, self.base_url_default, f"{self.key} needs its provider's address"
            )
        except MissingSettingError as exc:
            raise SettingsError(f"{self.label}: {exc}") from None

    async def settings_map(self) -> Mapping[str, str]:
        """This connected integration's settings from REGOS (case-insensitive keys, cached briefly).
        Read names out of it with `integrations.connected_settings.setting`."""
        async with self.ctx.regos() as api:
            return await api.integrations.connected_integration_setting.get_map()

    async def required_settings_map(self) -> Mapping[str, str]:
        """`settings_map()`, or SettingsError naming the `required_settings` that are missing."""
        values = await self.settings_map()
        require(values, self.required_settings, self.label)
        return values

    async def missing_settings(self, values: Mapping[str, str]) -> IntegrationErrorResponse | None:
        """For lifecycle answers: REGOS shows this to the user when `required_settings` are missing."""
        absent = missing(values, self.required_settings)
        if absent:
            return IntegrationErrorResponse.of(400, f"{self.key}: setting {', '.join(absent)} is missing in REGOS")
        return None

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

    async def handle_webhooks(self, events: Sequence[WebhookEvent]) -> list[IntegrationResult | Exception]:
        """Several webhooks of this connected integration at once, in arrival order. One entry per
        event, same order: its result, or the exception it raised (TransientError → that event
        alone is retried; PermanentError → that event alone fails). Cancellation is not caught.
        Default: one by one, each with the context its own task would have had."""
        outcomes: list[IntegrationResult | Exception] = []
        for event in events:
            ctx = replace(
                self.ctx,
                event_id=event.event_id,
                task_id=event.task_id or self.ctx.task_id,
                request_id=event.request_id or self.ctx.request_id,
            )
            single = type(self)(ctx)
            try:
                outcomes.append(await single.handle_webhook(event.call))
            except Exception as exc:  # reported per event, never stops the others
                outcomes.append(exc)
        return outcomes

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

    @staticmethod
    def provider_message_id(effect_id: str) -> str:
        """Our id for one message at a provider that takes one (32 hex characters): derived from
        the effect id, so every retry of the chunk sends the same id."""
        return hashlib.sha256(effect_id.encode()).hexdigest()[:32]

    async def send_chunk(self, chunk_id: str, messages: list[OutgoingMessage]) -> list[MessageOutcome]:
        raise NotImplementedError

    async def send_exactly_once(
        self,
        chunk_id: str,
        messages: list[OutgoingMessage],
        send: Callable[[list[Pending]], Awaitable[str | None]],
        **options: Any,
    ) -> ChunkResult:
        """`integrations.sms.dispatch.send_exactly_once` wired for this integration (its Redis, ledger
        TTL, label, effect ids, `deduplicates_by_id`, the task time limit as claim lease). `send(pending)`
        makes the one provider call and returns its request id; `options`: `provider_id`,
        `reconcile`, `announces_start` (see that module)."""
        settings = self.ctx.settings
        return await send_exactly_once(
            redis=self.ctx.redis,
            ttl=settings.pii_retention_seconds,
            label=self.label,
            chunk_id=chunk_id,
            messages=messages,
            effect_id=self.effect_id,
            send=send,
            deduplicates_by_id=type(self).deduplicates_by_id,
            claim_lease=settings.task_time_limit_seconds,
            **options,
        )


class SmsIntegrationBase(MessagingIntegrationBase):
    """SMS providers: recipients are normalised phone numbers (digits only)."""


class TelegramIntegrationBase(MessagingIntegrationBase):
    """Telegram bots: recipients are chat ids."""

    chunk_size: ClassVar[int] = 20
