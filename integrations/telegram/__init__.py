"""Telegram Bot API building blocks shared by Telegram integrations.

- `bot_api`: the HTTP client (`BotAPI`) with typed errors; masks bot tokens in httpx2 logs.
- `sender`: rate-limited delivery, at least once with bounded, counted duplicates after a crash
  (`TelegramSender`, `Delivery`, `DeliveryResult`).
- `text`: HTML escaping and splitting to Telegram's 4096/1024 limits.
- `updates`: lenient parsing of incoming updates (`parse_update`); unused kinds are ignored.
- `webhook`: setWebhook's rules (HTTPS, ports 443/80/88/8443, secret_token charset), checked first.
"""

from integrations.telegram.bot_api import (
    BotAPI,
    TelegramAPIError,
    TelegramError,
    TelegramTransportError,
    token_fingerprint,
)
from integrations.telegram.sender import Delivery, DeliveryResult, TelegramSender

__all__ = [
    "BotAPI",
    "Delivery",
    "DeliveryResult",
    "TelegramAPIError",
    "TelegramError",
    "TelegramSender",
    "TelegramTransportError",
    "token_fingerprint",
]
