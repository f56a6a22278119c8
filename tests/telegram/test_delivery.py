"""Telegram's answers during fan-out: 429, blocked, migrated groups, bad markup, bad token."""

from __future__ import annotations

import time
import uuid

import pytest

from integrations.errors import PermanentError, TransientError
from tests.telegram import Env, new_chat


def cheque(env: Env) -> str:
    return env.regos.add_cheque(amount=1000, code="C-1")["uuid"]


def event() -> str:
    return f"evt-{uuid.uuid4().hex}"


def test_short_429_is_retried_for_that_chat_only(env: Env) -> None:
    slow, fast = new_chat(), new_chat()
    env.configure(CHAT_IDS=[int(slow), int(fast)])
    env.tg.rate_limit(slow, retry_after=1, times=1)

    started = time.monotonic()
    result = env.webhook("DocChequeClosed", cheque(env), event_id=event())

    assert result.ok and result.result["sent"] == 2
    assert len(env.tg.sent(slow)) == 1 and len(env.tg.sent(fast)) == 1
    slow_attempts = [a for a in env.tg.attempts if a["chat_id"] == slow]
    fast_attempts = [a for a in env.tg.attempts if a["chat_id"] == fast]
    assert len(slow_attempts) == 2 and len(fast_attempts) == 1
    assert slow_attempts[1]["at"] - slow_attempts[0]["at"] >= 0.95  # waited retry_after
    assert fast_attempts[0]["at"] - started < 0.9  # the other chat did not wait
    assert env.chat_ids() == [slow, fast]


def test_long_429_raises_transient_after_serving_the_others_then_retry_skips_them(env: Env) -> None:
    slow, fast = new_chat(), new_chat()
    env.configure(CHAT_IDS=[int(slow), int(fast)])
    env.tg.rate_limit(slow, retry_after=30, times=1)
    evt, doc = event(), cheque(env)

    with pytest.raises(TransientError) as info:
        env.webhook("DocChequeClosed", doc, event_id=evt)
    assert 29 <= info.value.retry_after <= 30
    assert len(env.tg.sent(fast)) == 1 and env.tg.sent(slow) == []

    # the task retries later; pretend the cooldown has passed
    import redis

    from integrations.telegram.bot_api import token_fingerprint

    r = redis.Redis.from_url(env.settings.redis_url)
    r.delete(f"gw:tg:cool:{token_fingerprint(env.token)}:{slow}")
    result = env.webhook("DocChequeClosed", doc, event_id=evt)
    assert result.result["sent"] == 1 and result.result["already_sent"] == 1
    assert len(env.tg.sent(fast)) == 1 and len(env.tg.sent(slow)) == 1


def test_blocked_subscriber_is_removed_from_chat_ids(env: Env) -> None:
    keep, blocked, missing = new_chat(), new_chat(), new_chat()
    env.configure(CHAT_IDS=[int(keep), int(blocked), int(missing)])
    env.tg.block(blocked)
    env.tg.missing(missing)

    result = env.webhook("DocChequeClosed", cheque(env), event_id=event())

    assert result.ok and result.result["sent"] == 1 and result.result["removed"] == 2
    assert env.chat_ids() == [keep]
    # the next event goes only to the remaining subscriber (settings cache was dropped by the edit)
    assert env.webhook("DocChequeClosed", cheque(env), event_id=event()).result["subscribers"] == 1


def test_migrated_group_is_replaced_and_served(env: Env) -> None:
    old, new, other = "-" + new_chat(), "-100" + new_chat(), new_chat()
    env.configure(CHAT_IDS=[int(old), int(other)])
    env.tg.migrate(old, new)

    result = env.webhook("DocChequeClosed", cheque(env), event_id=event())

    assert result.ok and result.result["sent"] == 2 and result.result["migrated"] == 1
    assert len(env.tg.sent(new)) == 1 and env.tg.sent(old) == []
    assert env.chat_ids() == [new, other]


def test_cant_parse_entities_resends_as_plain_text(env: Env) -> None:
    chat = new_chat()
    env.configure(CHAT_IDS=[int(chat)])
    env.tg.reject_entities(1)

    result = env.webhook("DocChequeClosed", cheque(env), event_id=event())

    assert result.ok and result.result["sent"] == 1
    [msg] = env.tg.sent(chat)
    assert msg["parse_mode"] is None
    assert "<b>" not in msg["text"] and "Чек закрыт" in msg["text"] and "C-1" in msg["text"]


def test_invalid_token_during_fanout_is_permanent_and_leaves_no_claims(env: Env) -> None:
    chat = new_chat()
    env.configure(CHAT_IDS=[int(chat)], BOT_TOKEN="999:not-a-known-bot-token")
    evt, doc = event(), cheque(env)
    with pytest.raises(PermanentError) as info:
        env.webhook("DocChequeClosed", doc, event_id=evt)
    assert "Telegram rejected BOT_TOKEN" in str(info.value) and "not-a-known" not in str(info.value)

    # fixed token: the same event is delivered (no claim was left behind)
    env.tg.add_bot("999:not-a-known-bot-token")
    assert env.webhook("DocChequeClosed", doc, event_id=evt).result["sent"] == 1
