"""End to end: HTTP ingress → Celery worker → FakeRegos / FakeTelegram, nothing mocked."""

from __future__ import annotations

import uuid

import orjson
import pytest

from integrations.guards import TELEGRAM_SECRET_HEADER, TELEGRAM_WEBHOOK_PURPOSE
from integrations.signing import derive_token
from tests.harness import SECRET_KEY, Stack, wait_until

KEY = "regos_telegram_notifier"


def new_chat() -> str:
    return str(uuid.uuid4().int % 10**12 + 10**9)


@pytest.fixture
def bot(stack: Stack):
    tg = stack.fakes.get("telegram")
    if tg is None:
        pytest.skip("FakeTelegram is not part of the stack")
    return tg, tg.add_bot(f"{uuid.uuid4().int % 10**9}:E2E{uuid.uuid4().hex}")


def test_webhook_end_to_end_and_duplicates_by_event_id(stack: Stack, bot) -> None:
    tg, token = bot
    chats = [new_chat(), new_chat()]
    cid = stack.new_cid(KEY, {"BOT_TOKEN": token, "CHAT_IDS": orjson.dumps([int(c) for c in chats]).decode()})
    cheque = stack.regos.add_cheque(amount=1_250_000, code="E2E-1")
    webhook = {"action": "DocChequeClosed", "data": {"uuid": cheque["uuid"]}}
    event_id = f"evt-{uuid.uuid4().hex}"

    first = stack.call(KEY, "HandleWebhook", cid, webhook, event_id=event_id)
    assert first.status_code == 200, first.text
    view = stack.wait_task(first.json()["result"]["task_id"])
    assert view["state"] == "SUCCESS", view
    assert view["result"]["ok"] is True and view["result"]["result"]["sent"] == 2
    for chat in chats:
        [msg] = tg.sent(chat)
        assert "E2E-1" in msg["text"] and "1 250 000.00" in msg["text"]

    # REGOS re-delivers twice with the same event_id: the ingress dedupes, nothing is resent
    for _ in range(2):
        again = stack.call(KEY, "HandleWebhook", cid, webhook, event_id=event_id).json()["result"]
        assert again["duplicate"] is True
    # and even a task run again for the same event (ingress dedup expired) sends nothing new
    dedupe_keys = stack.redis.keys(f"gw:dedupe:{KEY}:{cid}:*")
    assert dedupe_keys
    stack.redis.delete(*dedupe_keys)
    replay = stack.call(KEY, "HandleWebhook", cid, webhook, event_id=event_id).json()["result"]
    assert "duplicate" not in replay
    view = stack.wait_task(replay["task_id"])
    assert view["state"] == "SUCCESS" and view["result"]["result"]["already_sent"] == 2, view
    assert all(len(tg.sent(c)) == 1 for c in chats)


def test_start_update_through_the_ingress_and_forged_secret_rejected(stack: Stack, bot) -> None:
    tg, token = bot
    cid = stack.new_cid(KEY, {"BOT_TOKEN": token})
    chat = new_chat()
    body = {"update_id": 77, "message": {"chat": {"id": int(chat)}, "text": "/start"}}
    url = f"/clients/{KEY}/external/{cid}"

    forged = stack.client.post(url, json=body, headers={TELEGRAM_SECRET_HEADER: "not-the-secret"})
    assert forged.status_code == 403
    missing = stack.client.post(url, json=body)
    assert missing.status_code == 403

    secret = derive_token(SECRET_KEY.encode(), TELEGRAM_WEBHOOK_PURPOSE, cid)
    accepted = stack.client.post(url, json=body, headers={TELEGRAM_SECRET_HEADER: secret})
    assert accepted.status_code == 200, accepted.text
    view = stack.wait_task(accepted.json()["result"]["task_id"])
    assert view["state"] == "SUCCESS" and view["result"]["result"]["status"] == "subscribed", view
    wait_until(lambda: len(tg.sent(chat)) == 1, what="the /start reply")
    assert orjson.loads(stack.regos.settings[cid]["CHAT_IDS"]) == [int(chat)]
    assert token not in stack.worker.log()


def test_connect_through_the_ingress_registers_the_webhook(stack: Stack, bot) -> None:
    tg, token = bot
    cid = stack.new_cid(KEY, {"BOT_TOKEN": token})
    response = stack.call(KEY, "Connect", cid)
    assert response.status_code == 200, response.text
    body = response.json()
    if "task_id" in body.get("result", {}):
        body = stack.wait_task(body["result"]["task_id"])["result"]
    assert body["ok"] is True, body
    assert tg.webhooks[token]["url"] == f"{stack.env['PUBLIC_BASE_URL']}/clients/{KEY}/external/{cid}"


def test_start_on_the_unverified_external_form_subscribes_nobody(stack: Stack, bot) -> None:
    """`/external/{cid}` carries no secret: a forged /start there must not reach CHAT_IDS."""
    tg, token = bot
    cid = stack.new_cid(KEY, {"BOT_TOKEN": token})
    chat = new_chat()
    body = {"update_id": 78, "message": {"chat": {"id": int(chat)}, "text": "/start"}}

    queued = stack.client.post(f"/external/{cid}", json=body)
    assert queued.status_code == 200, queued.text  # the ingress cannot know the integration without I/O
    view = stack.wait_task(queued.json()["result"]["task_id"])
    assert view["state"] == "FAILURE", view
    assert f"/clients/{KEY}/external/" in view["error"], view
    assert "CHAT_IDS" not in stack.regos.settings[cid]
    assert tg.sent(chat) == []
