"""Checks the ingress runs on provider callbacks before enqueueing them — without any I/O.

A guard proves a callback genuine from a token derived from GATEWAY_SECRET_KEY and the
connected integration id (see `integrations.signing`), names the provider's own idempotency
id if it has one, and lists the secret-bearing headers/query parameters that must be
stripped before the request is put on a queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from integrations.signing import token_matches

TELEGRAM_SECRET_HEADER = "x-telegram-bot-api-secret-token"
TELEGRAM_WEBHOOK_PURPOSE = "telegram-webhook"
SMS_CALLBACK_PURPOSE = "sms-callback"
SIGNATURE_PARAM = "sig"


@dataclass(frozen=True)
class TelegramUpdateGuard:
    """Telegram echoes the `secret_token` given to setWebhook in a header on every update."""

    secret_headers: tuple[str, ...] = (TELEGRAM_SECRET_HEADER,)
    secret_params: tuple[str, ...] = ()

    def verify(self, secret_key: bytes, cid: str, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        return token_matches(secret_key, TELEGRAM_WEBHOOK_PURPOSE, cid, headers.get(TELEGRAM_SECRET_HEADER))

    def dedupe_id(self, body: Any) -> str | None:
        update_id = body.get("update_id") if isinstance(body, dict) else None
        return str(update_id) if isinstance(update_id, int) else None


@dataclass(frozen=True)
class SignedCallbackGuard:
    """Callback URLs the gateway hands out carry `?sig=<token>`; anything else is forged."""

    secret_headers: tuple[str, ...] = ()
    secret_params: tuple[str, ...] = (SIGNATURE_PARAM,)

    def verify(self, secret_key: bytes, cid: str, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        return token_matches(secret_key, SMS_CALLBACK_PURPOSE, cid, query.get(SIGNATURE_PARAM))

    def dedupe_id(self, body: Any) -> str | None:
        return None


ExternalGuard = TelegramUpdateGuard | SignedCallbackGuard
