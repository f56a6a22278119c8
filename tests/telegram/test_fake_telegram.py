"""The Telegram fake refuses what the Bot API refuses (its contract: tests/fakes/telegram.py)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx2
import pytest

from tests.fakes.telegram import FakeTelegram


@pytest.fixture
def bot(tg: FakeTelegram) -> str:
    return tg.add_bot(f"{uuid.uuid4().int % 10**9}:AA{uuid.uuid4().hex}")


def call(tg: FakeTelegram, path: str, **kw: Any) -> tuple[int, dict[str, Any]]:
    response = httpx2.post(tg.url + path, **kw)
    return response.status_code, response.json()


def test_paths_are_exact_and_unknown_tokens_unauthorized(tg: FakeTelegram, bot: str) -> None:
    assert call(tg, f"/bot{bot}/getMe")[1]["ok"] is True
    assert call(tg, f"/bot{bot}/GETME")[1]["ok"] is True  # "All methods in the Bot API are case-insensitive"
    for path in (f"/bot{bot}/getMe/", f"/api/bot{bot}/getMe", f"/bot{bot}/getMe/x", f"/{bot}/getMe"):
        assert call(tg, path) == (404, {"ok": False, "error_code": 404, "description": "Not Found"}), path
    assert call(tg, f"/bot{bot}/noSuchMethod") == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    assert call(tg, "/bot123:wrong/getMe") == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})


def test_json_form_and_query_parameters_but_not_other_content_types(tg: FakeTelegram, bot: str) -> None:
    url = f"/bot{bot}/sendMessage"
    assert call(tg, url, json={"chat_id": 42, "text": "json"})[1]["result"]["text"] == "json"
    assert call(tg, url, data={"chat_id": "42", "text": "form"})[1]["result"]["text"] == "form"
    assert call(tg, url, params={"chat_id": "42", "text": "query"})[1]["result"]["text"] == "query"
    body = json.dumps({"chat_id": 42, "text": "mislabelled"})
    status, answer = call(tg, url, content=body, headers={"Content-Type": "text/plain"})
    assert (status, answer["description"]) == (400, "Bad Request: chat_id is empty")
    status, answer = call(tg, url, content=b"{not json", headers={"Content-Type": "application/json"})
    assert status == 400 and answer["ok"] is False
    assert [m["text"] for m in tg.sent(42, token=bot)] == ["json", "form", "query"]


def test_send_message_answer_is_a_message(tg: FakeTelegram, bot: str) -> None:
    status, answer = call(tg, f"/bot{bot}/sendMessage", json={"chat_id": -100777, "text": "hi"})
    message = answer["result"]
    assert status == 200 and set(message) >= {"message_id", "date", "chat", "text"}
    assert message["chat"] == {"id": -100777, "type": "supergroup"}
    assert call(tg, f"/bot{bot}/sendMessage", json={"chat_id": 1})[1]["description"] == (
        "Bad Request: message text is empty"
    )


@pytest.mark.parametrize(
    ("url", "description"),
    [
        ("http://gateway.example/hook", "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"),
        ("gateway.example/hook", "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"),
        (
            "https://gateway.example:8000/hook",
            "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
        ),
        (
            "https://gateway.example:444/hook",
            "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
        ),
    ],
)
def test_set_webhook_refuses_urls(tg: FakeTelegram, bot: str, url: str, description: str) -> None:
    assert call(tg, f"/bot{bot}/setWebhook", json={"url": url}) == (
        400,
        {"ok": False, "error_code": 400, "description": description},
    )
    assert bot not in tg.webhooks


@pytest.mark.parametrize("secret", ["has space", "plus+slash/", "é", "x" * 257])
def test_set_webhook_refuses_secret_tokens(tg: FakeTelegram, bot: str, secret: str) -> None:
    status, answer = call(tg, f"/bot{bot}/setWebhook", json={"url": "https://g.example/h", "secret_token": secret})
    assert status == 400 and answer["description"].startswith("Bad Request: secret token")
    assert bot not in tg.webhooks


def test_webhook_lifecycle_and_info(tg: FakeTelegram, bot: str) -> None:
    info = call(tg, f"/bot{bot}/getWebhookInfo")[1]["result"]
    assert info == {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
    for port in ("", ":443", ":80", ":88", ":8443"):
        url = f"https://g.example{port}/h"
        body = {"url": url, "secret_token": "A-z_0" * 51 + "x", "allowed_updates": ["message"]}
        assert call(tg, f"/bot{bot}/setWebhook", json=body)[1] == {
            "ok": True,
            "result": True,
            "description": "Webhook was set",
        }
    form = {"url": "https://g.example/form", "allowed_updates": '["message","my_chat_member"]'}
    assert call(tg, f"/bot{bot}/setWebhook", data=form)[1]["ok"] is True
    info = call(tg, f"/bot{bot}/getWebhookInfo")[1]["result"]
    assert info["url"] == "https://g.example/form" and info["allowed_updates"] == ["message", "my_chat_member"]
    assert call(tg, f"/bot{bot}/deleteWebhook")[1]["description"] == "Webhook was deleted"
    assert call(tg, f"/bot{bot}/deleteWebhook")[1]["description"] == "Webhook is already deleted"


def test_scripted_refusals_carry_telegrams_parameters(tg: FakeTelegram, bot: str) -> None:
    tg.rate_limit(901, retry_after=7)
    tg.migrate(-902, -100902)
    tg.block(903)
    tg.missing(904)
    send = f"/bot{bot}/sendMessage"
    assert call(tg, send, json={"chat_id": 901, "text": "x"}) == (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 7",
            "parameters": {"retry_after": 7},
        },
    )
    status, answer = call(tg, send, json={"chat_id": -902, "text": "x"})
    assert status == 400 and answer["parameters"] == {"migrate_to_chat_id": -100902}
    assert (
        call(tg, send, json={"chat_id": 903, "text": "x"})[1]["description"] == "Forbidden: bot was blocked by the user"
    )
    assert call(tg, send, json={"chat_id": 904, "text": "x"})[1]["description"] == "Bad Request: chat not found"
    tg.clear_faults()
