"""Connect / Disconnect / UpdateSettings (setWebhook) and /start, /stop updates."""

from __future__ import annotations

import asyncio
import re

import pytest

from integrations.guards import TELEGRAM_WEBHOOK_PURPOSE
from integrations.signing import derive_token
from integrations.telegram.webhook import secret_token_problem
from schemas.envelope import ExternalRequest, IntegrationErrorResponse
from tests.telegram import SECRET, Env, new_chat, with_integration


def update(update_id: int, chat: str, text: str) -> ExternalRequest:
    body = {
        "update_id": update_id,
        "message": {"message_id": 1, "chat": {"id": int(chat), "type": "private"}, "text": text},
    }
    return ExternalRequest(method="POST", path=chat, body=body)


def test_connect_registers_the_webhook_with_url_and_secret(env: Env) -> None:
    result = env.call(lambda i: i.connect())

    assert result.ok, result
    hook = env.tg.webhooks[env.token]
    assert hook["url"] == f"https://gateway.example:8443/clients/regos_telegram_notifier/external/{env.cid}"
    assert hook["secret_token"] == derive_token(SECRET.encode(), TELEGRAM_WEBHOOK_PURPOSE, env.cid)
    assert result.result["webhook"] == hook["url"] and result.result["bot"].startswith("@")
    assert env.token not in str(result.model_dump())


def test_invalid_token_on_connect_is_ok_false_without_the_token(env: Env) -> None:
    bad = "111:definitely-unknown-token"
    env.configure(BOT_TOKEN=bad)

    result = env.call(lambda i: i.connect())

    assert isinstance(result, IntegrationErrorResponse)
    assert result.result.error == 401
    # the integration, the call and Telegram's own words
    assert result.result.description == (
        f"regos_telegram_notifier for connected integration {env.cid}: "
        "Telegram rejected BOT_TOKEN (getMe): Unauthorized"
    )
    assert bad not in result.model_dump_json()
    assert [c.path for c in env.tg.calls(f"/bot{bad}/")] == [f"/bot{bad}/getMe"]  # no setWebhook after it


def test_missing_token_on_connect(env: Env) -> None:
    env.regos.settings[env.cid].clear()
    result = env.call(lambda i: i.connect())
    assert isinstance(result, IntegrationErrorResponse) and "BOT_TOKEN is missing" in result.result.description


def test_disconnect_deletes_the_webhook(env: Env) -> None:
    assert env.call(lambda i: i.connect()).ok
    result = env.call(lambda i: i.disconnect())
    assert result.ok and result.result["status"] == "disconnected"
    assert env.token in env.tg.deleted_webhooks and env.token not in env.tg.webhooks


def test_update_settings_reregisters_only_when_the_token_changed(env: Env) -> None:
    assert env.call(lambda i: i.connect()).ok
    calls = len(env.tg.calls("/setWebhook"))
    assert env.call(lambda i: i.update_settings()).result == {"status": "settings updated"}
    assert len(env.tg.calls("/setWebhook")) == calls

    new_token = env.tg.add_bot("222:second-bot-token")
    env.configure(BOT_TOKEN=new_token)

    async def changed(integration):  # the worker drops the settings cache on UpdateSettings
        async with integration.ctx.regos() as api:
            await api.integrations.connected_integration_setting.invalidate_cache()
        return await integration.update_settings()

    result = env.call(changed)
    assert result.result == {"status": "settings updated", "webhook": "re-registered"}
    assert env.tg.webhooks[new_token]["url"].endswith(env.cid)


def test_start_and_stop(env: Env) -> None:
    chat = new_chat()
    result = env.call(lambda i: i.handle_external(update(1, chat, "/start")))
    assert result.ok and result.result["status"] == "subscribed" and result.result["replied"] is True
    assert env.chat_ids() == [chat]
    assert "подписаны" in env.tg.texts(chat)[0]

    again = env.call(lambda i: i.handle_external(update(2, chat, "/start@shop_bot")))
    assert again.result["status"] == "already subscribed" and env.chat_ids() == [chat]

    stop = env.call(lambda i: i.handle_external(update(3, chat, "/stop")))
    assert stop.result["status"] == "unsubscribed" and env.chat_ids() == []
    assert len(env.tg.sent(chat)) == 3


def test_other_updates_are_ignored(env: Env) -> None:
    chat = new_chat()
    for body in (
        {"update_id": 5, "message": {"chat": {"id": int(chat)}, "text": "hello"}},
        {"update_id": 6, "edited_message": {}},
        None,
        [],
    ):
        result = env.call(lambda i, b=body: i.handle_external(ExternalRequest(method="POST", path="", body=b)))
        assert result.ok and result.result["status"] == "ignored"
    assert env.tg.sent(chat) == []


def test_bot_removed_from_chat_unsubscribes(env: Env) -> None:
    chat = "-" + new_chat()
    env.configure(CHAT_IDS=[int(chat)])
    body = {"update_id": 9, "my_chat_member": {"chat": {"id": int(chat)}, "new_chat_member": {"status": "kicked"}}}
    result = env.call(lambda i: i.handle_external(ExternalRequest(method="POST", path="", body=body)))
    assert result.result["status"] == "unsubscribed" and env.chat_ids() == []


def test_twenty_concurrent_starts_all_end_up_in_chat_ids(env: Env) -> None:
    existing = new_chat()
    env.configure(CHAT_IDS=[int(existing)])
    chats = [new_chat() for _ in range(20)]

    async def main() -> list:
        from regos_sdk import aclose_shared

        # each update in its own integration instance, like separate tasks on one worker loop
        try:
            return await asyncio.gather(
                *(
                    with_integration(
                        env,
                        lambda i, n=n, c=c: i.handle_external(update(100 + n, c, "/start")),
                        close_shared=False,
                    )
                    for n, c in enumerate(chats)
                )
            )
        finally:
            await aclose_shared()

    results = asyncio.run(main())

    assert all(r.ok and r.result["status"] == "subscribed" for r in results)
    assert sorted(env.chat_ids()) == sorted([existing, *chats])
    assert all(len(env.tg.sent(c)) == 1 for c in chats)


@pytest.mark.parametrize(
    ("base", "why"),
    [
        ("http://gateway.example", "not https"),
        ("http://127.0.0.1:8000", "not https"),
        ("https://gateway.example:8000", "uses port 8000"),
        ("https://gateway.example:9443/prefix", "uses port 9443"),
    ],
)
def test_connect_refuses_a_public_base_url_telegram_would_refuse_before_calling_it(
    env: Env, base: str, why: str
) -> None:
    env.settings = env.settings.model_copy(update={"public_base_url": base})
    result = env.call(lambda i: i.connect())

    assert isinstance(result, IntegrationErrorResponse) and result.result.error == 400, result
    assert "PUBLIC_BASE_URL cannot receive Telegram updates" in result.result.description
    assert why in result.result.description
    assert env.tg.calls(f"/bot{env.token}/") == []  # refused before any call to Telegram


@pytest.mark.parametrize("base", ["https://gateway.example", "https://gateway.example:443", "https://g.example:88"])
def test_connect_accepts_https_on_telegrams_ports(env: Env, base: str) -> None:
    env.settings = env.settings.model_copy(update={"public_base_url": base})
    assert env.call(lambda i: i.connect()).ok
    assert env.tg.webhooks[env.token]["url"].startswith(base + "/clients/")


def test_the_derived_secret_fits_telegrams_secret_token_rule(env: Env) -> None:
    for cid in (env.cid, "11v5929ba236415hb31346ede021bdi4", "A" * 64):
        secret = derive_token(SECRET.encode(), TELEGRAM_WEBHOOK_PURPOSE, cid)
        assert secret_token_problem(secret) is None and re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret)
    assert secret_token_problem("has space") is not None and secret_token_problem("x" * 257) is not None
    assert secret_token_problem("") is not None
