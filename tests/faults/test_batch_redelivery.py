"""A worker SIGKILLed in the middle of a webhook batch: the batch message comes back, every event
runs, and no notification reaches a chat twice (the batch was not trimmed; the ledger remembers
what was sent)."""

from __future__ import annotations

import uuid

import orjson

from jobs import webhook_batches
from tests.harness import Stack, wait_until

KEY = "regos_telegram_notifier"


def test_a_batch_held_by_a_killed_worker_runs_again_without_doubles(stack: Stack) -> None:
    tg = stack.fakes["telegram"]
    token = tg.add_bot(f"{uuid.uuid4().int % 10**9}:K{uuid.uuid4().hex}")
    first, second = (str(uuid.uuid4().int % 10**12 + 10**9) for _ in range(2))
    cid = stack.new_cid(KEY, {"BOT_TOKEN": token, "CHAT_IDS": orjson.dumps([int(first), int(second)]).decode()})
    codes = [f"K-{n}-{uuid.uuid4().hex[:6]}" for n in range(4)]
    cheques = [stack.regos.add_cheque(code=code)["uuid"] for code in codes]

    stack.worker.stop()  # the events wait together: one batch carries them
    ids = []
    for cheque in cheques:
        webhook = {"action": "DocChequeClosed", "data": {"uuid": cheque}}
        response = stack.call(KEY, "HandleWebhook", cid, webhook, event_id=f"evt-{uuid.uuid4().hex}")
        ids.append(response.json()["result"]["task_id"])
    # The digest to the second chat hangs (and is never delivered): the worker dies inside the batch.
    tg.hold(second, 30, accept=False)
    stack.worker.start()
    wait_until(lambda: len(tg.sent(first)) == 1, what="the first chat's digest")
    wait_until(lambda: any(str(a["chat_id"]) == second for a in tg.attempts), what="second send")
    stack.worker.kill()
    assert all(stack.task(i)["state"] != "SUCCESS" for i in ids)
    assert stack.redis.llen(webhook_batches.pending_key(KEY, cid)) == 4  # nothing trimmed
    stack.worker.start()

    views = [stack.wait_task(i, timeout=60) for i in ids]  # visibility timeout in tests: 12 s
    assert [v["state"] for v in views] == ["SUCCESS"] * 4, views
    for chat in (first, second):
        texts = tg.texts(chat)
        assert all(sum(code in t for t in texts) == 1 for code in codes), (chat, texts)
    assert len(tg.sent(first)) == 1
    wait_until(lambda: stack.redis.llen(webhook_batches.pending_key(KEY, cid)) == 0, what="batch trimmed")
