"""TinySMS: one `POST {TINYSMS_BASE_URL}/send` per chunk, JSON, the connected integration's API key.

The provider's contract (the walk-through's own, served by tests/walkthrough/fake.py):
`{"messages": [{"id", "to", "text"}]}` with `Authorization: Bearer <key>` → 200
`{"batch_id": "..."}`; 401 for a wrong key; 5xx / 429 when it cannot take the batch now.
"""

from __future__ import annotations

from typing import ClassVar

from integrations.base import SmsIntegrationBase
from integrations.connected_settings import setting
from integrations.sms import http
from integrations.sms.dispatch import Pending
from schemas.envelope import MessageOutcome, OutgoingMessage


class TinySmsIntegration(SmsIntegrationBase):
    chunk_size: ClassVar[int] = 100
    required_settings: ClassVar[tuple[str, ...]] = ("TINYSMS_API_KEY",)
    base_url_env: ClassVar[str] = "TINYSMS_BASE_URL"
    base_url_default: ClassVar[str] = "https://api.tinysms.example"
    metrics_target: ClassVar[str] = "tinysms"

    async def send_chunk(self, chunk_id: str, messages: list[OutgoingMessage]) -> list[MessageOutcome]:
        api_key = setting(await self.required_settings_map(), "TINYSMS_API_KEY")

        async def send(pending: list[Pending]) -> str | None:
            items = [
                {"id": self.provider_message_id(p.effect_id), "to": p.message.recipient, "text": p.message.message}
                for p in pending
            ]
            response = await http.call(
                self.ctx.http,
                "tinysms send",
                "POST",
                f"{self.base_url}/send",
                timeout_seconds=self.ctx.settings.provider_timeout_seconds,
                secrets=(api_key,),
                effect=True,  # the ledger says `started` just before this request leaves
                headers={"Authorization": f"Bearer {api_key}"},
                json={"messages": items},
            )
            return str(response.json()["batch_id"])

        result = await self.send_exactly_once(chunk_id, messages, send, announces_start=True)
        return result.outcomes
