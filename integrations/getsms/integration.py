"""GetSMS (Uzbekistan): batches of ≤ 50 SMS per call, no delivery reports."""

from __future__ import annotations

from typing import ClassVar

from integrations.base import SmsIntegrationBase
from integrations.errors import SettingsError
from integrations.getsms import client
from integrations.sms.config import missing, require, setting
from integrations.sms.dispatch import Pending, send_exactly_once
from schemas.envelope import (
    IntegrationErrorResponse,
    IntegrationResult,
    IntegrationSuccessResponse,
    MessageOutcome,
    OutgoingMessage,
)
from settings import MissingSettingError

REQUIRED = ("GETSMS_LOGIN", "GETSMS_PASSWORD")


class GetSmsIntegration(SmsIntegrationBase):
    key: ClassVar[str] = "getsms"
    chunk_size: ClassVar[int] = client.MAX_BATCH

    @property
    def label(self) -> str:
        return f"getsms for connected integration {self.cid}"

    async def _check(self) -> IntegrationResult:
        values = await self.settings_map()
        absent = missing(values, REQUIRED)
        if absent:
            return IntegrationErrorResponse.of(400, f"getsms: setting {', '.join(absent)} is missing in REGOS")
        try:
            self.ctx.settings.require_getsms_base_url()
        except MissingSettingError as exc:
            return IntegrationErrorResponse.of(500, f"getsms: gateway misconfigured: {exc}")
        return IntegrationSuccessResponse(result={"status": "connected"})

    async def connect(self) -> IntegrationResult:
        return await self._check()

    async def update_settings(self) -> IntegrationResult:
        result = await self._check()
        if isinstance(result, IntegrationSuccessResponse):
            result = IntegrationSuccessResponse(result={"status": "settings updated"})
        return result

    async def send_chunk(self, chunk_id: str, messages: list[OutgoingMessage]) -> list[MessageOutcome]:
        settings = self.ctx.settings
        values = await self.settings_map()
        require(values, REQUIRED, self.label)
        try:
            url = settings.require_getsms_base_url()
        except MissingSettingError as exc:
            raise SettingsError(f"{self.label}: {exc}") from None
        login, password = setting(values, "GETSMS_LOGIN"), setting(values, "GETSMS_PASSWORD")
        nickname = setting(values, "GETSMS_NICKNAME")

        async def send(pending: list[Pending]) -> str | None:
            answer = await client.send_messages(
                self.ctx.http,
                url,
                login=login or "",
                password=password or "",
                nickname=nickname,
                messages=[(p.message.recipient, p.message.message) for p in pending],
                timeout_seconds=settings.provider_timeout_seconds,
            )
            return client.request_id_of(answer)

        result = await send_exactly_once(
            redis=self.ctx.redis,
            ttl=settings.pii_retention_seconds,
            label=self.label,
            chunk_id=chunk_id,
            messages=messages,
            effect_id=self.effect_id,
            send=send,
        )
        return result.outcomes
