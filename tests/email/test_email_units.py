"""Validation at the ingress, settings and the built message, without the stack."""

from __future__ import annotations

import time
from email import message_from_bytes, policy

import pytest

from integrations.email_sender import mail
from integrations.email_sender.config import parse
from integrations.errors import SettingsError
from integrations.messages import validate_email
from schemas.envelope import OutgoingMessage

NAME = "O\u02bbzbek Do\u2018kon"  # Uzbek letters outside Latin-1
SETTINGS = {"SMTP_HOST": "smtp.example.com", "SMTP_FROM": "shop@example.com"}


def test_addresses_are_normalised_and_invalid_items_reported() -> None:
    data = [
        {"recipient": " Ali@Example.COM ", "message": "hi", "subject": "a\r\nBcc: x@example.com", "id": 9},
        {"recipient": "ali@", "message": "x"},
        {"recipient": "a@example.com", "message": "  "},
        {"recipient": "a@example.com", "message": "x", "is_html": "yes"},
        {"recipient": "a@bücher.example", "message": "x"},
        "not an object",
    ]
    valid, invalid = validate_email(data)
    assert [(m.index, m.recipient) for m in valid] == [(0, "Ali@example.com"), (4, "a@xn--bcher-kva.example")]
    assert valid[0].subject == "a Bcc: x@example.com"  # one line: no header injection
    assert valid[0].extra == {"id": 9}
    assert [i.index for i in invalid] == [1, 2, 3, 5]
    with pytest.raises(ValueError):
        validate_email({"recipient": "a@example.com"})


def test_settings_are_checked_without_echoing_values() -> None:
    config = parse({**SETTINGS, "SMTP_SECURITY": "TLS"}, "label")
    assert (config.port, config.security, config.username) == (465, "tls", None)
    assert parse(SETTINGS, "label").port == 587
    for bad in ({"SMTP_SECURITY": "ssl3"}, {"SMTP_PORT": "70000"}, {"SMTP_USERNAME": "u"}, {"SMTP_FROM": "nope"}):
        with pytest.raises(SettingsError) as raised:
            parse({**SETTINGS, **bad}, "label")
        assert all(value not in str(raised.value) for value in bad.values())
    with pytest.raises(SettingsError, match="SMTP_HOST"):
        parse({"SMTP_FROM": "shop@example.com"}, "label")
    assert "secret" not in repr(parse({**SETTINGS, "SMTP_USERNAME": "u", "SMTP_PASSWORD": "secret"}, "label"))


def test_message_id_is_stable_per_call_and_index() -> None:
    first = mail.message_id("email_sender:cid:bulk", 3, "example.com")
    assert first == mail.message_id("email_sender:cid:bulk", 3, "example.com")
    assert first != mail.message_id("email_sender:cid:bulk", 4, "example.com")
    assert first != mail.message_id("email_sender:cid:other", 3, "example.com")
    assert first.startswith("<") and first.endswith("@example.com>")


def test_plain_message_headers_and_body() -> None:
    config = parse({**SETTINGS, "SMTP_FROM": f"{NAME} <shop@example.com>"}, "label")
    message = OutgoingMessage(index=0, recipient="a@example.org", message="Salom, dunyo!", subject="Chegirma ✓")
    raw = mail.build(config, message, "<id@example.com>")
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed.get_content_type() == "text/plain" and parsed.get_content().strip() == "Salom, dunyo!"
    assert str(parsed["Subject"]) == "Chegirma ✓" and parsed["Message-ID"] == "<id@example.com>"
    assert parsed["Date"] is not None and parsed["From"].addresses[0].display_name == NAME
    assert all(byte < 128 for byte in raw.split(b"\r\n\r\n")[0])  # headers encoded, not raw UTF-8


def test_html_to_text_keeps_words_and_lines() -> None:
    html = "<html><head><style>p{}</style></head><p>Salom &amp; <b>dunyo</b></p><p>2-qator<br>3</p></html>"
    assert mail.html_to_text(html) == "Salom & dunyo\n\n2-qator\n3\n"


def test_rate_per_minute_is_shared_through_redis(redis_url: str) -> None:
    import asyncio

    from redis.asyncio import Redis

    from integrations.base import IntegrationContext
    from integrations.email_sender import EmailSenderIntegration
    from settings import Settings

    async def run() -> list[float | None]:
        redis = Redis.from_url(redis_url)
        try:
            settings = Settings(environment="test", redis_url=redis_url)
            config = parse({**SETTINGS, "SMTP_RATE_PER_MINUTE": "2"}, "label")
            # Two integration instances stand for two worker processes: the counter is shared.
            first, second = (
                EmailSenderIntegration(IntegrationContext("email_sender", "c" * 32, settings, redis, None))  # type: ignore[arg-type]
                for _ in range(2)
            )
            return [await first._rate_wait(config), await second._rate_wait(config), await first._rate_wait(config)]
        finally:
            await redis.aclose()

    if time.time() % 60 > 58:  # the three calls must fall in one minute
        time.sleep(2.5)
    waits = asyncio.run(run())
    assert waits[:2] == [None, None]
    assert waits[2] is not None and 0 < waits[2] <= 60


def test_bodies_survive_any_relay_and_parse_back() -> None:
    config = parse({**SETTINGS, "SMTP_REPLY_TO": "Yordam <help@example.com>"}, "label")
    text = "Assalomu alaykum, O\u02bblmas!\n\u0427\u0435\u0433\u0438\u0440\u043c\u0430 10%\n." + "x" * 1200
    raw = mail.build(config, OutgoingMessage(index=0, recipient="a@example.org", message=text), "<i@example.com>")
    assert raw.isascii() and max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed.get_content().replace("\r\n", "\n") == text + "\n"
    assert str(parsed["Reply-To"]) == "Yordam <help@example.com>"
    html = "<p>Narx: <b>5 000 so\u02bbm</b></p>"
    raw = mail.build(
        config, OutgoingMessage(index=1, recipient="a@example.org", message=html, is_html=True), "<j@example.com>"
    )
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative" and not parsed.defects
    assert parsed.get_body(("html",)).get_content().rstrip("\r\n") == html
    assert parsed.get_body(("plain",)).get_content().strip() == "Narx: 5 000 so\u02bbm"
