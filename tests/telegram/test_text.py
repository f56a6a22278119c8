"""Pure helpers: escaping, splitting, formatting, settings parsing, log masking."""

from __future__ import annotations

import logging

import pytest

from integrations.errors import SettingsError
from integrations.regos_telegram_notifier.config import dump_chat_ids, parse_chat_ids, parse_config, parse_stock_ids
from integrations.regos_telegram_notifier.formatting import money, tashkent_time
from integrations.telegram.bot_api import BotTokenLogFilter
from integrations.telegram.sender import Delivery, plan_parts
from integrations.telegram.text import escape, html_to_plain, split_for_photo, split_text, utf16_len
from kit.redaction import redact
from regos_sdk.integrations.connected_integration_setting import SettingsMap


def test_escape_and_plain() -> None:
    assert escape('<b>"A&B"</b>') == "&lt;b&gt;&quot;A&amp;B&quot;&lt;/b&gt;"
    assert html_to_plain("<b>Чек</b> &lt;1&gt; &amp; co") == "Чек <1> & co"


def test_split_prefers_line_breaks_and_respects_utf16() -> None:
    text = ("a" * 3000 + "\n") * 3
    parts = split_text(text)
    assert parts == ["a" * 3000, "a" * 3000, "a" * 3000 + "\n"] or all(utf16_len(p) <= 4096 for p in parts)
    assert all(utf16_len(p) <= 4096 for p in parts)
    emoji = "😀" * 3000  # 6000 UTF-16 units
    parts = split_text(emoji)
    assert all(utf16_len(p) <= 4096 for p in parts) and "".join(parts) == emoji
    assert split_text("short") == ["short"]


def test_split_for_photo() -> None:
    caption, rest = split_for_photo("word " * 1000)
    assert utf16_len(caption) <= 1024 and rest and all(utf16_len(p) <= 4096 for p in rest)
    assert split_for_photo("hi") == ("hi", [])


def test_long_html_is_sent_as_plain_parts() -> None:
    parts = plan_parts(Delivery("e", "1", "<b>x</b> &amp; " * 2000, parse_mode="HTML"))
    assert len(parts) > 1 and all(p.parse_mode is None and "<b>" not in p.text for p in parts)


def test_money_and_time() -> None:
    assert money(1250000) == "1 250 000.00"
    assert money("999.5") == "999.50"
    assert money(None) == "—"
    assert tashkent_time(0) == "01.01.1970 05:00"


def test_settings_parsing() -> None:
    assert parse_chat_ids('[123, -100456, "@shop_news"]') == ["123", "-100456", "@shop_news"]
    assert parse_chat_ids("123, 456,123") == ["123", "456"]
    assert parse_chat_ids("") == []
    assert dump_chat_ids(["123", "-100456", "@shop_news"]) == '[123,-100456,"@shop_news"]'
    with pytest.raises(SettingsError):
        parse_chat_ids("[1, {}]")
    assert parse_stock_ids(" 1, 2 ,3") == {1, 2, 3}
    assert parse_stock_ids("") is None
    with pytest.raises(SettingsError, match="STOCK_IDS"):
        parse_stock_ids("1, two")
    config = parse_config(SettingsMap({"bot_token": " t ", "cheque_notification": "0"}))
    assert config.bot_token == "t" and not config.cheque_notifications and config.chat_ids == ()
    assert parse_config({"BOT_TOKEN": "t"}).cheque_notifications


def test_token_scrubbing() -> None:
    url = "https://api.telegram.org/bot123456:AAH-secret_token/sendMessage"
    assert redact(url) == "https://api.telegram.org/bot***/sendMessage"
    record = logging.LogRecord("httpx2", logging.INFO, "", 0, 'HTTP Request: %s %s "%s"', ("POST", url, "200"), None)
    BotTokenLogFilter().filter(record)
    assert "secret_token" not in record.getMessage() and "/bot***/" in record.getMessage()
