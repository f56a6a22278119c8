"""The notifier's settings in REGOS, parsed once: `BOT_TOKEN`, `CHAT_IDS`, `CHEQUE_NOTIFICATION`, `STOCK_IDS`.

Values are secrets or personal data: error messages name the setting and what is wrong with
its shape, never the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import orjson

from integrations.connected_settings import require, setting
from integrations.errors import SettingsError
from integrations.messages import normalize_chat_id

BOT_TOKEN = "BOT_TOKEN"
CHAT_IDS = "CHAT_IDS"
CHEQUE_NOTIFICATION = "CHEQUE_NOTIFICATION"
STOCK_IDS = "STOCK_IDS"
_OFF = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class NotifierConfig:
    bot_token: str
    chat_ids: tuple[str, ...]
    cheque_notifications: bool
    stock_ids: frozenset[int] | None  # None = every stock


def bot_token(values: Mapping[str, str], label: str) -> str:
    """BOT_TOKEN, or SettingsError when it is missing or empty."""
    require(values, (BOT_TOKEN,), label)
    return setting(values, BOT_TOKEN) or ""


def parse_chat_ids(raw: str | None, label: str = "regos_telegram_notifier") -> list[str]:
    """`[123, -100456, "@shop"]` → ["123", "-100456", "@shop"] (order kept, duplicates dropped).

    Also accepts a comma-separated list (hand-edited settings)."""
    raw = (raw or "").strip()
    if not raw:
        return []
    items: list[object]
    if raw.startswith("["):
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise SettingsError(f"{label}: setting CHAT_IDS is not a valid JSON array") from None
        if not isinstance(parsed, list):
            raise SettingsError(f"{label}: setting CHAT_IDS must be a JSON array of chat ids")
        items = parsed
    else:
        items = [p for p in raw.split(",") if p.strip()]
    out: list[str] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int | str):
            raise SettingsError(f"{label}: setting CHAT_IDS holds an item that is not a chat id")
        chat = normalize_chat_id(str(item))
        if chat is None:
            raise SettingsError(f"{label}: setting CHAT_IDS holds an item that is not a chat id")
        if chat not in out:
            out.append(chat)
    return out


def dump_chat_ids(chat_ids: list[str]) -> str:
    """Numeric ids as JSON numbers, `@names` as strings."""
    return orjson.dumps([int(c) if c.lstrip("-").isdigit() else c for c in chat_ids]).decode()


def parse_stock_ids(raw: str | None, label: str = "regos_telegram_notifier") -> frozenset[int] | None:
    raw = (raw or "").strip().strip("[]").strip()
    if not raw:
        return None
    ids: set[int] = set()
    for part in raw.split(","):
        part = part.strip().strip('"')
        if not part:
            continue
        try:
            ids.add(int(part))
        except ValueError:
            raise SettingsError(f"{label}: setting STOCK_IDS must be comma-separated stock ids (numbers)") from None
    return frozenset(ids) or None


def parse_config(values: Mapping[str, str], label: str = "regos_telegram_notifier") -> NotifierConfig:
    return NotifierConfig(
        bot_token=bot_token(values, label),
        chat_ids=tuple(parse_chat_ids(setting(values, CHAT_IDS), label)),
        cheque_notifications=(setting(values, CHEQUE_NOTIFICATION) or "").lower() not in _OFF,
        stock_ids=parse_stock_ids(setting(values, STOCK_IDS), label),
    )
