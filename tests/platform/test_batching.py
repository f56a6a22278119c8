"""Webhooks of one connected integration run in batches, yet every event ends under its own id.

End to end (ingress → Redis → worker → FakeRegos / FakeTelegram), nothing of ours mocked. The
worker is stopped while the webhooks arrive, so they wait together and one batch carries them.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
from celery.events.state import State

from jobs import dead_letters, webhook_batches
from jobs.records import RESULT_KEY_PREFIX
from tests.harness import Stack, wait_until

KEY = "regos_telegram_notifier"


def _chat() -> str:
    return str(uuid.uuid4().int % 10**12 + 10**9)


@pytest.fixture
def notifier(stack: Stack) -> tuple[Any, str, list[str]]:
    """FakeTelegram, a connected notifier with two chats, and those chats."""
    tg = stack.fakes.get("telegram")
    if tg is None:
        pytest.skip("FakeTelegram is not part of the stack")
    token = tg.add_bot(f"{uuid.uuid4().int % 10**9}:B{uuid.uuid4().hex}")
    chats = [_chat(), _chat()]
    cid = stack.new_cid(KEY, {"BOT_TOKEN": token, "CHAT_IDS": orjson.dumps([int(c) for c in chats]).decode()})
    return tg, cid, chats


def _filter_by_stock(stack: Stack, cid: str, stock_id: int = 7) -> str:
    """STOCK_IDS on, so a cheque REGOS does not find is a permanent failure (not a "not found" notice);
    returns an open session on a cash register of that stock."""
    stack.regos.settings[cid]["STOCK_IDS"] = str(stock_id)
    cash_id = uuid.uuid4().int % 10**6
    stack.regos.add_operating_cash(cash_id, stock_id=stock_id, stock_name=f"Stock {stock_id}")
    return stack.regos.add_session(operating_cash_id=cash_id, code="S-1")["uuid"]


@contextmanager
def worker_paused(stack: Stack) -> Iterator[None]:
    """Webhooks sent inside wait for their integration's batch until the worker is back."""
    stack.worker.stop()
    try:
        yield
    finally:
        stack.worker.start()


def _send(stack: Stack, cid: str, action: str, uuid_: str, event_id: str | None = None) -> dict[str, Any]:
    webhook = {"action": action, "data": {"uuid": uuid_}}
    response = stack.call(KEY, "HandleWebhook", cid, webhook, event_id=event_id or f"evt-{uuid.uuid4().hex}")
    assert response.status_code == 200, response.text
    return response.json()["result"]


def _regos_calls(stack: Stack, cid: str, method: str) -> int:
    return sum(1 for c in stack.regos.calls(method) if f"/{cid}/" in c.path)


def _dead_letter_of(stack: Stack, task_id: str) -> dict[str, Any] | None:
    for letter_id in stack.redis.lrange(dead_letters.INDEX_KEY, 0, -1):
        raw = stack.redis.get(dead_letters.RECORD_PREFIX + letter_id.decode())
        if raw and orjson.loads(raw)["task_id"] == task_id:
            return orjson.loads(raw)
    return None


def test_one_batch_carries_the_waiting_events_and_each_ends_under_its_own_id(stack: Stack, notifier) -> None:
    tg, cid, chats = notifier
    session = _filter_by_stock(stack, cid)
    codes = [f"B-{n}-{uuid.uuid4().hex[:6]}" for n in range(3)]
    cheques = [stack.regos.add_cheque(code=code, session=session)["uuid"] for code in codes]
    with worker_paused(stack):
        first_event = f"evt-{uuid.uuid4().hex}"
        queued = [_send(stack, cid, "DocChequeClosed", cheques[0], first_event)]
        queued += [_send(stack, cid, "DocChequeClosed", c) for c in cheques[1:]]
        poisoned = _send(stack, cid, "DocChequeClosed", str(uuid.uuid4()))  # REGOS does not find it
        duplicate = _send(stack, cid, "DocChequeClosed", cheques[0], first_event)
        # one batch message for the integration, every event waiting on its list
        assert stack.redis.llen(webhook_batches.pending_key(KEY, cid)) == 4
        assert duplicate == {"status": "queued", "task_id": queued[0]["task_id"], "duplicate": True}

    views = [stack.wait_task(q["task_id"]) for q in queued]
    assert [v["state"] for v in views] == ["SUCCESS"] * 3, views
    assert all(v["result"]["ok"] is True and v["result"]["result"]["sent"] == 2 for v in views), views
    failed = stack.wait_task(poisoned["task_id"])
    assert failed["state"] == "FAILURE" and "REGOS does not find the document" in failed["error"], str(failed)
    letter = _dead_letter_of(stack, poisoned["task_id"])
    assert letter is not None and letter["task_name"] == "integrations.handle_webhook", letter
    assert not any(_dead_letter_of(stack, q["task_id"]) for q in queued)

    # one REGOS read of each list and one digest per chat for the whole batch, cheques in order
    assert _regos_calls(stack, cid, "DocCheque/Get") == 1
    assert _regos_calls(stack, cid, "DocCashSession/Get") == 1
    for chat in chats:
        [digest] = tg.texts(chat)
        assert [digest.index(code) for code in codes] == sorted(digest.index(code) for code in codes), digest
    batch = orjson.loads(stack.redis.get(f"{RESULT_KEY_PREFIX}batch-{queued[0]['task_id']}"))
    assert batch["status"] == "SUCCESS"
    assert batch["result"]["events"] == [q["task_id"] for q in queued] + [poisoned["task_id"]]
    assert (batch["result"]["succeeded"], batch["result"]["failed"]) == (3, 1)
    # trimmed and unscheduled: the next webhook starts a new batch
    wait_until(lambda: not stack.redis.exists(webhook_batches.scheduled_key(KEY, cid)), what="flag cleared")
    assert stack.redis.llen(webhook_batches.pending_key(KEY, cid)) == 0


def test_a_transient_failure_retries_that_event_alone(stack: Stack, notifier) -> None:
    tg, cid, chats = notifier
    code = f"T-{uuid.uuid4().hex[:6]}"
    cheque = stack.regos.add_cheque(code=code)["uuid"]
    session = stack.regos.add_session(closed=True, close_amount=10.0)["uuid"]
    # The SDK tries a 503 three times (regos_sdk/client.py); the session list fails for this batch only.
    stack.regos.fail_next(3, 503, path_contains=f"/{cid}/v1/DocCashSession/Get")
    with worker_paused(stack):
        closed = _send(stack, cid, "DocChequeClosed", cheque)
        session_closed = _send(stack, cid, "DocSessionClosed", session)

    ok = stack.wait_task(closed["task_id"])
    assert ok["state"] == "SUCCESS" and ok["retries"] == 0, ok
    retried = stack.wait_task(session_closed["task_id"])
    assert retried["state"] == "SUCCESS" and retried["retries"] == 1, retried
    assert retried["name"] == "integrations.handle_webhook"
    for chat in chats:  # the cheque once, the session alone on its retry
        texts = tg.texts(chat)
        assert sum(code in t for t in texts) == 1 and len(texts) == 2, texts


def test_flower_sees_every_event_of_a_batch_and_its_batch(stack: Stack, notifier) -> None:
    from workers.app import app

    _, cid, _ = notifier
    state = State()
    ready = threading.Event()
    receivers: list[Any] = []

    def listen() -> None:
        with app.connection_for_read(stack.env["REDIS_URL"]) as connection:
            receiver = app.events.Receiver(connection, handlers={"*": state.event})
            receivers.append(receiver)
            ready.set()
            receiver.capture(limit=None, timeout=60, wakeup=True)

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    ready.wait(5)
    cheques = [stack.regos.add_cheque(code=f"F-{n}")["uuid"] for n in range(2)]
    with worker_paused(stack):
        ids = [_send(stack, cid, "DocChequeClosed", c)["task_id"] for c in cheques]
    for task_id in ids:
        assert stack.wait_task(task_id)["state"] == "SUCCESS"
    deadline = time.monotonic() + 10
    while any(t not in state.tasks or state.tasks[t].state != "SUCCESS" for t in ids) and time.monotonic() < deadline:
        time.sleep(0.1)
    receivers[0].should_stop = True
    listener.join(5)
    for task_id in ids:
        task = state.tasks[task_id]
        assert task.name == "integrations.handle_webhook" and task.state == "SUCCESS", task
        assert task.parent_id == f"batch-{ids[0]}" and "DocChequeClosed" in task.args, task
    assert state.tasks[f"batch-{ids[0]}"].name == "integrations.handle_webhook_batch"
