"""Eskiz: reconcile, then send (issue 12); the ledger's `started` marker; Connect's live login.

EskizSmsIntegration against the strict FakeEskiz and FakeRegos over HTTP, with a private Redis.
"""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar

import httpx2
import orjson
import pytest
from redis.asyncio import Redis

from integrations.errors import TransientError
from integrations.eskiz_sms import EskizSmsIntegration, dispatch_id_for, user_sms_id_for
from integrations.ledger import EffectLedger
from tests.fakes.regos import FakeRegos
from tests.fakes.sms import FakeEskiz
from tests.sms import ESKIZ_EMAIL as EMAIL
from tests.sms import ESKIZ_PASSWORD as PASSWORD
from tests.sms import chunk, make_settings, messages, new_cid, run, send, with_integration


@pytest.fixture
def env(redis_url: str, regos: FakeRegos, eskiz: FakeEskiz):
    cid = new_cid()
    regos.add_connected_integration(cid, "eskiz_sms", settings={"ESKIZ_EMAIL": EMAIL, "ESKIZ_PASSWORD": PASSWORD})
    return cid, make_settings(redis_url, regos, eskiz_base_url=eskiz.url)


def _records(redis_url: str, effect_ids: list[str]) -> list[dict | None]:
    async def go() -> list[dict | None]:
        redis = Redis.from_url(redis_url)
        try:
            raw = await redis.mget([f"gw:fx:{e}" for e in effect_ids])
            return [orjson.loads(r) if r else None for r in raw]
        finally:
            await redis.aclose()

    return asyncio.run(go())


def _set_records(redis_url: str, effect_ids: list[str], state: str, at: float | None = None) -> None:
    async def go() -> None:
        redis = Redis.from_url(redis_url)
        try:
            ledger = EffectLedger(redis, ttl=600)
            await ledger.claim(effect_ids)
            if state == "started":
                await ledger.mark_started(effect_ids)
            elif state == "unknown":
                await ledger.mark_unknown(effect_ids, "test")
            if at is not None:
                for e in effect_ids:
                    record = orjson.loads(await redis.get(f"gw:fx:{e}"))
                    await redis.set(f"gw:fx:{e}", orjson.dumps({**record, "at": at}), ex=600)
        finally:
            await redis.aclose()

    asyncio.run(go())


def _accept_directly(eskiz: FakeEskiz, chunk_id: str, indexes: list[int]) -> None:
    """What an attempt that died after Eskiz accepted would have left at Eskiz."""
    with httpx2.Client(base_url=eskiz.url) as http:
        token = http.post("/auth/login", data={"email": EMAIL, "password": PASSWORD}).json()["data"]["token"]
        answer = http.post(
            "/message/sms/send-batch",
            json={
                "messages": [
                    {"user_sms_id": user_sms_id_for(f"{chunk_id}:{i}"), "to": int(f"99890{i:07d}"), "text": f"x {i}"}
                    for i in indexes
                ],
                "from": "4546",
                "dispatch_id": dispatch_id_for(chunk_id),
            },
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200, answer.text


# --- reconcile, then send ----------------------------------------------------------------------


def test_unknown_batch_partly_held_by_eskiz_is_reconciled_and_only_the_rest_sent(env, eskiz, redis_url) -> None:
    cid, settings = env
    chunk_id = chunk(cid, "partial")
    msgs = messages(5)
    effect_ids = [f"{chunk_id}:{m.index}" for m in msgs]
    _set_records(redis_url, effect_ids, "unknown")  # an earlier attempt lost its answer
    _accept_directly(eskiz, chunk_id, [0, 3])  # ... and Eskiz had taken two of them
    outcomes = send(EskizSmsIntegration, settings, cid, chunk_id, msgs)
    assert [(o.status, o.resolution) for o in outcomes] == [
        ("accepted", "reconciled"),
        ("accepted", "resent"),
        ("accepted", "resent"),
        ("accepted", "reconciled"),
        ("accepted", "resent"),
    ]
    counts = eskiz.delivered_counts(EMAIL)
    assert len(counts) == 5 and set(counts.values()) == {1}
    resend = eskiz.calls("/message/sms/send-batch")[-1].json()
    assert [m["user_sms_id"] for m in resend["messages"]] == [user_sms_id_for(effect_ids[i]) for i in (1, 2, 4)]
    assert {r["state"] for r in _records(redis_url, effect_ids)} == {"sent"}
    # A redelivery now finds everything sent: no lookup, no send.
    lookups, sends = len(eskiz.calls("get-user-messages-by-dispatch")), len(eskiz.calls("send-batch"))
    again = send(EskizSmsIntegration, settings, cid, chunk_id, msgs)
    assert [o.status for o in again] == ["accepted"] * 5 and all(o.resolution is None for o in again)
    assert (len(eskiz.calls("get-user-messages-by-dispatch")), len(eskiz.calls("send-batch"))) == (lookups, sends)


def test_lookup_failure_retries_and_never_resends_blind(env, eskiz, redis_url) -> None:
    cid, settings = env
    chunk_id = chunk(cid, "lookupfail")
    msgs = messages(3)
    _set_records(redis_url, [f"{chunk_id}:{m.index}" for m in msgs], "unknown")
    eskiz.lookups_fail(1)
    with pytest.raises(TransientError, match="could not ask the provider") as info:
        send(EskizSmsIntegration, settings, cid, chunk_id, msgs)
    assert "HTTP 500" in str(info.value)
    assert eskiz.calls("send-batch") == []
    outcomes = send(EskizSmsIntegration, settings, cid, chunk_id, msgs)
    assert [o.resolution for o in outcomes] == ["resent"] * 3
    assert set(eskiz.delivered_counts(EMAIL).values()) == {1}


def test_lookup_answers_with_several_pages(env, eskiz, redis_url) -> None:
    cid, settings = env
    chunk_id = chunk(cid, "pages")
    msgs = messages(100)
    _set_records(redis_url, [f"{chunk_id}:{m.index}" for m in msgs], "unknown")
    _accept_directly(eskiz, chunk_id, [*range(0, 100, 2), 99])  # 51 held: two pages of 50
    outcomes = send(EskizSmsIntegration, settings, cid, chunk_id, msgs)
    assert sum(o.resolution == "reconciled" for o in outcomes) == 51
    assert sum(o.resolution == "resent" for o in outcomes) == 49
    assert [c.form()["page"] for c in eskiz.calls("get-user-messages-by-dispatch")] == ["1", "2"]
    assert set(eskiz.delivered_counts(EMAIL).values()) == {1}


def test_a_live_attempt_is_waited_for_not_raced(env, eskiz, redis_url) -> None:
    cid, settings = env
    chunk_id = chunk(cid, "live")
    msgs = messages(2)
    _set_records(redis_url, [f"{chunk_id}:{m.index}" for m in msgs], "started", at=time.time())
    with pytest.raises(TransientError, match="may still be running") as info:
        send(EskizSmsIntegration, settings, cid, chunk_id, msgs)
    assert 0 < (info.value.retry_after or 0) <= settings.task_time_limit_seconds + 1
    assert eskiz.calls("get-user-messages-by-dispatch") == [] and eskiz.calls("send-batch") == []
    # Once its time limit has passed, the owner is certainly gone: resolved.
    _set_records(redis_url, [f"{chunk_id}:{m.index}" for m in msgs], "started", at=time.time() - 3600)
    assert [o.resolution for o in send(EskizSmsIntegration, settings, cid, chunk_id, msgs)] == ["resent"] * 2


def test_a_stale_claim_never_sent_is_sent_without_lookup(env, eskiz, redis_url) -> None:
    cid, settings = env
    chunk_id = chunk(cid, "stale")
    msgs = messages(2)
    _set_records(redis_url, [f"{chunk_id}:{m.index}" for m in msgs], "claimed", at=time.time() - 3600)
    outcomes = send(EskizSmsIntegration, settings, cid, chunk_id, msgs)
    assert [o.status for o in outcomes] == ["accepted"] * 2
    assert eskiz.calls("get-user-messages-by-dispatch") == []


def test_provider_that_deduplicates_resends_the_same_id_without_lookup(env, eskiz, redis_url) -> None:
    class Idempotent(EskizSmsIntegration):
        deduplicates_by_id: ClassVar[bool] = True

    cid, settings = env
    chunk_id = chunk(cid, "dedupe")
    msgs = messages(2)
    _set_records(redis_url, [f"{chunk_id}:{m.index}" for m in msgs], "unknown")
    outcomes = send(Idempotent, settings, cid, chunk_id, msgs)
    assert [o.resolution for o in outcomes] == ["resent"] * 2
    assert eskiz.calls("get-user-messages-by-dispatch") == []
    body = eskiz.calls("send-batch")[-1].json()
    assert [m["user_sms_id"] for m in body["messages"]] == [user_sms_id_for(f"{chunk_id}:{m.index}") for m in msgs]


# --- cancellation (task time limit) -------------------------------------------------------------


def _send_cancelled_after(settings, cid: str, chunk_id: str, msgs, seconds: float) -> None:
    async def go(integration):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(integration.send_chunk(chunk_id, msgs), seconds)

    asyncio.run(with_integration(EskizSmsIntegration, settings, cid, go))


def test_cancelled_while_waiting_for_a_token_is_released_and_sent_on_retry(env, eskiz, redis_url) -> None:
    cid, settings = env
    chunk_id = chunk(cid, "cancel-token")
    msgs = messages(3)
    eskiz.fail_next(1, status=500, path_contains="/auth/login", delay=3)  # login hangs
    _send_cancelled_after(settings, cid, chunk_id, msgs, 0.7)
    assert _records(redis_url, [f"{chunk_id}:{m.index}" for m in msgs]) == [None] * 3  # released
    outcomes = send(EskizSmsIntegration, settings, cid, chunk_id, msgs)
    assert [(o.status, o.resolution) for o in outcomes] == [("accepted", None)] * 3
    assert eskiz.calls("get-user-messages-by-dispatch") == []


def test_cancelled_mid_request_is_unknown_then_reconciled(env, eskiz, redis_url) -> None:
    cid, settings = env
    send(EskizSmsIntegration, settings, cid, chunk(cid, "warm"), messages(1))  # token cached
    chunk_id = chunk(cid, "cancel-mid")
    msgs = messages(3, start=5)
    eskiz.accept_then_hang(1, delay=3)
    _send_cancelled_after(settings, cid, chunk_id, msgs, 0.7)
    records = _records(redis_url, [f"{chunk_id}:{m.index}" for m in msgs])
    assert {r["state"] for r in records} == {"unknown"} and {r["reason"] for r in records} == {"CancelledError"}
    outcomes = send(EskizSmsIntegration, settings, cid, chunk_id, msgs)
    assert [o.resolution for o in outcomes] == ["reconciled"] * 3
    assert set(eskiz.delivered_counts(EMAIL).values()) == {1}


# --- Connect: a live login --------------------------------------------------------------------


def test_connect_with_wrong_password_answers_eskiz_own_words(redis_url, regos, eskiz) -> None:
    cid = new_cid()
    regos.add_connected_integration(cid, "eskiz_sms", settings={"ESKIZ_EMAIL": EMAIL, "ESKIZ_PASSWORD": "wrong-pw"})
    settings = make_settings(redis_url, regos, eskiz_base_url=eskiz.url)
    answer = run(EskizSmsIntegration, settings, cid, lambda i: i.connect())
    assert answer.ok is False and answer.result.error == 400
    assert "Invalid credentials" in answer.result.description  # Eskiz's words
    assert "wrong-pw" not in answer.result.description and EMAIL not in answer.result.description
    assert [c.path for c in eskiz.requests] == ["/auth/login"]


def test_connect_logs_in_and_reads_the_balance(env, eskiz) -> None:
    cid, settings = env
    eskiz.balance = 0
    answer = run(EskizSmsIntegration, settings, cid, lambda i: i.connect())
    assert answer.ok is True and answer.result["balance"] == 0 and "balance is empty" in answer.result["warning"]
    assert [c.path for c in eskiz.requests] == ["/auth/login", "/user/get-limit"]
    # the token is cached: the first send (after a top-up) does not log in again
    eskiz.balance = None
    send(EskizSmsIntegration, settings, cid, chunk(cid, "after-connect"), messages(1))
    assert eskiz.logins == 1


def test_empty_balance_refuses_the_batch_for_good(env, eskiz) -> None:
    from integrations.errors import PermanentError

    cid, settings = env
    eskiz.balance = 1
    with pytest.raises(PermanentError, match="Insufficient balance"):
        send(EskizSmsIntegration, settings, cid, chunk(cid, "broke"), messages(2))
    assert eskiz.delivered == []
