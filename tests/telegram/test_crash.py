"""Issue 12, Telegram, as an operator would see it: a worker SIGKILLed in the middle of a fan-out.

Real worker processes (tests/harness.py), the real ingress, FakeRegos and FakeTelegram over HTTP.
One cheque event to five chats: one is answered before the kill; Telegram hangs on the other four,
having taken two of the messages (the answer is what is lost) and not the other two. The worker is
killed with all four in flight and a new one started; the broker redelivers the task.
Telegram has no way to ask whether a message arrived, so the four are sent again: every chat gets
the message, and the duplicates are at most one per send that was in flight at the crash.
"""

from __future__ import annotations

import time
import uuid

import orjson

from tests.harness import Stack, wait_until

KEY = "regos_telegram_notifier"


def new_chat() -> str:
    return str(uuid.uuid4().int % 10**12 + 10**9)


def test_worker_killed_mid_fan_out_every_chat_gets_the_message(stack: Stack) -> None:
    tg = stack.fakes["telegram"]
    token = tg.add_bot(f"{uuid.uuid4().int % 10**9}:CRASH{uuid.uuid4().hex}")
    answered, *in_flight = chats = [new_chat() for _ in range(5)]
    taken, not_taken = in_flight[:2], in_flight[2:]
    for chat in taken:
        tg.hold(chat, 20, accept=True)
    for chat in not_taken:
        tg.hold(chat, 20, accept=False)
    cid = stack.new_cid(KEY, {"BOT_TOKEN": token, "CHAT_IDS": orjson.dumps([int(c) for c in chats]).decode()})
    cheque = stack.regos.add_cheque(amount=125_000, code="CRASH-1")
    webhook = {"action": "DocChequeClosed", "data": {"uuid": cheque["uuid"]}}

    response = stack.call(KEY, "HandleWebhook", cid, webhook, event_id=f"evt-{uuid.uuid4().hex}")
    assert response.status_code == 200, response.text
    task_id = response.json()["result"]["task_id"]

    def attempted() -> set[str]:
        return {a["chat_id"] for a in tg.attempts if a["token"] == token}

    wait_until(lambda: attempted() == set(chats), timeout=30, what="all five sends started")
    time.sleep(0.3)  # the answered send is recorded as sent; the held ones still wait (timeout: 3 s)
    assert len(tg.sent(answered, token)) == 1
    stack.worker.kill()
    stack.worker.start()

    view = stack.wait_task(task_id, timeout=90)  # redelivered after the visibility timeout (12 s)

    assert view["state"] == "SUCCESS", view
    result = view["result"]["result"]
    assert result["already_sent"] == 1 and result["sent"] == 4 and result["resent"] == 4, result
    assert result["unknown"] == 0 and result["failed"] == 0, result
    counts = {chat: len(tg.sent(chat, token)) for chat in chats}
    assert all(n >= 1 for n in counts.values()), counts  # every chat got the message
    assert counts[answered] == 1, counts  # what was answered before the crash is not resent
    assert all(counts[c] == 2 for c in taken), counts  # taken by Telegram, answer lost: one duplicate
    assert all(counts[c] == 1 for c in not_taken), counts  # never taken: sent once
