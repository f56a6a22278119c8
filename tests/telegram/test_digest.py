"""Issue 15: a Telegram digest per chat when several notifications of a batch wait for it.

`handle_webhooks` directly against FakeRegos and FakeTelegram over HTTP (no queue). The fake
refuses a text over 4,096 UTF-16 units ("message is too long", tests/fakes/telegram.py), so a
digest that overflowed would fail here.
"""

from __future__ import annotations

import asyncio

import pytest

from integrations.regos_telegram_notifier.formatting import MAX_FIELD
from integrations.telegram.text import DIGEST_SEPARATOR, MAX_TEXT, pack_digests, utf16_len
from tests.telegram import Env, new_chat, with_integration
from tests.telegram.batching import batch, event_id, webhook


def cheques(env: Env, count: int, *, code_length: int = 6, prefix: str = "D") -> list[str]:
    codes = [f"{prefix}{n:03d}".ljust(code_length, "x") for n in range(count)]
    return [env.regos.add_cheque(amount=1000 + n, code=code)["uuid"] for n, code in enumerate(codes)]


def positions(text: str, codes: list[str]) -> list[int]:
    return [text.index(code) for code in codes]


def test_pack_digests_keeps_order_limits_and_never_cuts() -> None:
    sep = utf16_len(DIGEST_SEPARATOR)
    assert pack_digests([10, 10, 10], limit=40) == [[0, 1, 2]]
    assert pack_digests([10, 10, 10], limit=10 + sep + 10) == [[0, 1], [2]]
    assert pack_digests([5, 50, 5, 5], limit=20) == [[0], [1], [2, 3]]  # an oversize text stays alone
    assert pack_digests([]) == []
    assert pack_digests([MAX_TEXT, 1]) == [[0], [1]]


def test_waiting_notifications_go_as_one_message_in_order(env: Env) -> None:
    a, b = new_chat(), new_chat()
    env.configure(CHAT_IDS=[int(a), int(b)])
    docs = cheques(env, 4)

    outcomes = batch(env, [webhook("DocChequeClosed", d) for d in docs])

    for chat in (a, b):
        [message] = env.tg.sent(chat)
        assert message["parse_mode"] == "HTML"
        found = positions(message["text"], [f"D{n:03d}" for n in range(4)])
        assert found == sorted(found)
        assert message["text"].count("Чек закрыт") == 4
    for outcome in outcomes:
        assert outcome.result["sent"] == 2 and outcome.result["already_sent"] == 0
        assert [c["digest"] for c in outcome.result["chats"]] == [4, 4]
    ids_a = {o.result["chats"][0]["message_id"] for o in outcomes}
    assert ids_a == {str(env.tg.sent(a)[0]["message_id"])}  # every event names the digest it went in


def test_a_long_digest_is_split_between_notifications(env: Env) -> None:
    chat = new_chat()
    env.configure(CHAT_IDS=[int(chat)])
    docs = cheques(env, 24, code_length=MAX_FIELD)  # each notification ~330 units: ~8,000 in all
    codes = [f"D{n:03d}" for n in range(24)]

    outcomes = batch(env, [webhook("DocChequeClosed", d) for d in docs])

    messages = env.tg.sent(chat)
    assert len(messages) >= 2
    assert all(utf16_len(m["text"]) <= MAX_TEXT for m in messages)
    joined = DIGEST_SEPARATOR.join(m["text"] for m in messages)
    assert positions(joined, codes) == sorted(positions(joined, codes))
    for m in messages:  # each notification whole in one message
        assert m["text"].count("Чек закрыт") == m["text"].count("Сумма:") == m["text"].count("(Ташкент)")
        assert m["text"].startswith("<b>")
    by_id = {str(m["message_id"]): m["text"] for m in messages}
    for code, outcome in zip(codes, outcomes, strict=True):
        [report] = outcome.result["chats"]
        assert code in by_id[report["message_id"]]
        assert report["digest"] == by_id[report["message_id"]].count("Чек закрыт")


def test_a_redelivered_batch_sends_only_the_rest(env: Env) -> None:
    chat = new_chat()
    env.configure(CHAT_IDS=[int(chat)])
    docs = cheques(env, 4)
    events = [webhook("DocChequeClosed", d) for d in docs]

    first = batch(env, events[:2])
    assert [o.result["sent"] for o in first] == [1, 1]
    asyncio.run(asyncio.sleep(1.0))  # the per-chat rate limit (1/s)
    again = batch(env, events)  # redelivered with two more events

    assert [o.result["already_sent"] for o in again] == [1, 1, 0, 0]
    assert [o.result["sent"] for o in again] == [0, 0, 1, 1]
    assert [o.result["chats"][0]["status"] for o in again] == ["already sent", "already sent", "sent", "sent"]
    first_digest, rest = env.tg.texts(chat)
    assert "D000" in first_digest and "D001" in first_digest and "D002" not in first_digest
    assert "D002" in rest and "D003" in rest and "D000" not in rest and "D001" not in rest

    third = batch(env, events)
    assert [o.result["already_sent"] for o in third] == [1, 1, 1, 1]
    assert len(env.tg.sent(chat)) == 2


def test_a_digest_lost_mid_send_is_sent_again_once_as_a_whole(env: Env) -> None:
    """Telegram took the digest but its answer was lost (the run is cancelled, as at the task time
    limit): every notification in it is unknown, so the redelivered batch sends the digest again
    (at least once, one duplicate), then never again."""
    held, done = new_chat(), new_chat()
    env.configure(CHAT_IDS=[int(held), int(done)])
    env.tg.hold(held, 3, accept=True)
    events = [webhook("DocChequeClosed", d, event_id()) for d in cheques(env, 3)]

    async def cancelled() -> None:
        await asyncio.wait_for(with_integration(env, lambda i: i.handle_webhooks(events)), 1.0)

    with pytest.raises(TimeoutError):
        asyncio.run(cancelled())
    assert len(env.tg.sent(held)) == 1 and len(env.tg.sent(done)) == 1

    retry = batch(env, events)
    assert [o.result["resent"] for o in retry] == [1, 1, 1], retry
    assert [o.result["already_sent"] for o in retry] == [1, 1, 1]  # the chat whose digest was recorded
    first, second = env.tg.texts(held)
    assert first == second and second.count("Чек закрыт") == 3
    assert len(env.tg.sent(done)) == 1

    asyncio.run(asyncio.sleep(1.0))
    assert [o.result["already_sent"] for o in batch(env, events)] == [2, 2, 2]
    assert len(env.tg.sent(held)) == 2


def test_send_messages_to_one_chat_stay_separate_messages(env: Env) -> None:
    """Digests are for the notifier's batches: SendMessages items keep one message each."""
    from schemas.envelope import OutgoingMessage

    chat = new_chat()
    messages = [OutgoingMessage(index=n, recipient=chat, message=f"Hi {n}") for n in range(2)]
    outcomes = env.call(lambda i: i.send_chunk(f"regos_telegram_notifier:{env.cid}:dg:0", messages))
    assert [o.status for o in outcomes] == ["accepted", "accepted"]
    assert env.tg.texts(chat) == ["Hi 0", "Hi 1"]
