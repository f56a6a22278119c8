"""Telegram Bot API building blocks shared by Telegram integrations.

- `bot_api`: the HTTP client (`BotAPI`) with typed errors; masks bot tokens in httpx2 logs.
- `sender`: rate-limited, exactly-once delivery (`TelegramSender`, `Delivery`, `DeliveryResult`).
- `text`: HTML escaping and splitting to Telegram's 4096/1024 limits.
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
