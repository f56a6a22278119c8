"""GetSmsIntegration against the strict FakeGetSms and FakeRegos over HTTP, with a private Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx2
import pytest
from redis.asyncio import Redis

from integrations.errors import PermanentError, SettingsError, TransientError
from integrations.getsms import GetSmsIntegration
from integrations.sms import status
from jobs import held
from settings import Settings
from tests.fakes.getsms import FakeGetSms
from tests.fakes.regos import FakeRegos
from tests.sms import chunk, make_settings, messages, new_cid, run, send

PASSWORD = "getsms-pass-S3cret"


@pytest.fixture
def getsms() -> Iterator[FakeGetSms]:
    fake = FakeGetSms(login="shop", password=PASSWORD).start()
    yield fake
    fake.stop()


def _cid(regos: FakeRegos, **extra: str) -> str:
    cid = new_cid()
    settings = {"GETSMS_LOGIN": "shop", "GETSMS_PASSWORD": PASSWORD, "GETSMS_NICKNAME": "SHOP", **extra}
    regos.add_connected_integration(cid, "getsms", settings=settings)
    return cid


@pytest.fixture
def env(redis_url: str, regos: FakeRegos, getsms: FakeGetSms) -> tuple[str, Settings]:
    return _cid(regos), make_settings(redis_url, regos, getsms_base_url=getsms.base_url)


def _held(settings: Settings, bulk_id: str) -> dict | None:
    async def load() -> dict | None:
        redis = Redis.from_url(settings.redis_url)
        try:
            return await held.load(redis, bulk_id)
        finally:
            await redis.aclose()

    return asyncio.run(load())


def test_configured_url_is_used_exactly(redis_url: str, regos: FakeRegos) -> None:
    settings = make_settings(redis_url, regos, getsms_base_url="http://185.8.212.184/smsgateway/")
    assert settings.base_url("GETSMS_BASE_URL", None, "getsms") == "http://185.8.212.184/smsgateway/"


def test_chunk_of_50_accepted_exactly_once_with_per_message_ids(env, getsms: FakeGetSms) -> None:
    cid, settings = env
    msgs = messages(50)
    outcomes = send(GetSmsIntegration, settings, cid, "d1:0", msgs)
    assert [o.status for o in outcomes] == ["accepted"] * 50
    assert outcomes[3].recipient == "********0003" and outcomes[3].segments == 1
    ids = [o.provider_id for o in outcomes]
    assert len(set(ids)) == 50 and ids == [str(row["request_id"]) for row in getsms.delivered]
    (call,) = getsms.sends()
    assert call.path == "/smsgateway/" and call.headers["content-type"] == "application/x-www-form-urlencoded"
    form = call.form()
    assert form["login"] == "shop" and form["password"] == PASSWORD and form["nickname"] == "SHOP"
    assert json.loads(form["data"])[0] == {"phone": "998900000000", "text": "Salom! Kod: 0"}

    again = send(GetSmsIntegration, settings, cid, "d1:0", msgs)  # a redelivered chunk task
    assert [o.provider_id for o in again] == ids
    assert len(getsms.sends()) == 1 and len(getsms.delivered) == 50


@pytest.mark.parametrize(
    ("knob", "error_no", "text"),
    [
        ("wrong_credentials", 101, "Incorrect Login or Password"),
        ("blocked", 102, "Your account is blocked"),
        ("limit_over", 103, "Your limit is over"),
    ],
)
def test_in_band_whole_request_error_fails_the_chunk_and_sends_nothing(
    env, getsms: FakeGetSms, knob: str, error_no: int, text: str
) -> None:
    # Before the fix: HTTP 200 with [{"error": 1, "error_no": 101, ...}] counted as "accepted".
    cid, settings = env
    getattr(getsms, knob)()
    with pytest.raises(PermanentError) as info:
        send(GetSmsIntegration, settings, cid, f"c{error_no}", messages(3))
    message = str(info.value)
    assert f"GetSMS error {error_no}: {text}" in message and cid in message and PASSWORD not in message
    assert getsms.delivered == []
    getsms.clear_faults()  # the operator fixed the account: a replay sends (claims were released)
    assert {o.status for o in send(GetSmsIntegration, settings, cid, f"c{error_no}", messages(3))} == {"accepted"}


def test_not_a_phone_number_fails_that_message_only(env, getsms: FakeGetSms) -> None:
    cid, settings = env
    msgs = messages(3)
    getsms.reject_phones(msgs[1].recipient)
    outcomes = send(GetSmsIntegration, settings, cid, "c300", msgs)
    assert [o.status for o in outcomes] == ["accepted", "failed", "accepted"]
    assert "GetSMS error 300: is NOT a phone number" in (outcomes[1].error or "")
    assert outcomes[1].provider_id is None and len(getsms.delivered) == 2


def test_500_is_transient_and_releases_claims(env, getsms: FakeGetSms) -> None:
    cid, settings = env
    getsms.fail_next(1, 500, b"<html>Internal Server Error</html>")
    with pytest.raises(TransientError) as info:
        send(GetSmsIntegration, settings, cid, "c500", messages(10))
    assert "getsms" in str(info.value) and cid in str(info.value) and "HTTP 500" in str(info.value)
    outcomes = send(GetSmsIntegration, settings, cid, "c500", messages(10))
    assert {o.status for o in outcomes} == {"accepted"}
    assert len(getsms.delivered) == 10 and max(getsms.delivered_counts().values()) == 1


def test_429_carries_retry_after(env, getsms: FakeGetSms) -> None:
    cid, settings = env
    getsms.fail_next(1, 429, b"Too Many Requests", headers={"Retry-After": "7"})
    with pytest.raises(TransientError) as info:
        send(GetSmsIntegration, settings, cid, "c429", messages(3))
    assert info.value.retry_after == 7.0


@pytest.mark.parametrize("fault", ["timeout", "drop"])
def test_unanswered_call_is_held_for_an_operator_and_never_resent(
    env, getsms: FakeGetSms, redis_url: str, regos: FakeRegos, fault: str
) -> None:
    cid, _ = env
    settings = make_settings(redis_url, regos, getsms_base_url=getsms.base_url, provider_timeout_seconds=0.5)
    if fault == "timeout":
        getsms.accept_then_hang(1, delay=3)
    else:
        getsms.hang_then_drop(1)
    outcomes = send(GetSmsIntegration, settings, cid, f"slow-{fault}", messages(5))
    assert {o.status for o in outcomes} == {"unknown"}
    assert "held for an operator" in (outcomes[0].error or "")
    again = send(GetSmsIntegration, settings, cid, f"slow-{fault}", messages(5))
    assert {o.status for o in again} == {"unknown"}
    assert len(getsms.sends()) == 1 and len(getsms.delivered) == 5
    record = _held(settings, chunk(cid, f"slow-{fault}"))
    assert record is not None and record["connected_integration_id"] == cid
    assert [m["index"] for m in record["messages"]] == list(range(5))
    view = held.public_view(record)
    assert view["count"] == 5 and view["messages"][2]["recipient"] == "********0002"


def test_policy_resend_sends_an_unanswered_chunk_again(env, getsms: FakeGetSms, redis_url: str, regos) -> None:
    cid = _cid(regos, GETSMS_UNKNOWN_POLICY="resend")
    settings = make_settings(redis_url, regos, getsms_base_url=getsms.base_url, provider_timeout_seconds=0.5)
    getsms.accept_then_hang(1, delay=3)
    with pytest.raises(TransientError, match="GETSMS_UNKNOWN_POLICY=resend"):
        send(GetSmsIntegration, settings, cid, "cresend", messages(4))
    outcomes = send(GetSmsIntegration, settings, cid, "cresend", messages(4))
    assert {o.status for o in outcomes} == {"accepted"}
    assert len(getsms.sends()) == 2 and set(getsms.delivered_counts().values()) == {2}  # at least once
    assert _held(settings, chunk(cid, "cresend")) is None


def test_connect_error_is_transient(env, redis_url: str, regos) -> None:
    cid, _ = env
    settings = make_settings(redis_url, regos, getsms_base_url="http://127.0.0.1:9/smsgateway/")
    with pytest.raises(TransientError, match="ConnectError"):
        send(GetSmsIntegration, settings, cid, "cdown", messages(2))


def test_connect_checks_credentials_live(env, getsms: FakeGetSms, redis_url: str, regos: FakeRegos) -> None:
    cid, settings = env
    assert run(GetSmsIntegration, settings, cid, lambda i: i.connect()).ok is True
    (call,) = getsms.calls()
    assert call.path == "/smsgateway/status/" and json.loads(call.form()["data"]) == [{"request_id": "0"}]
    wrong = new_cid()
    regos.add_connected_integration(wrong, "getsms", settings={"GETSMS_LOGIN": "shop", "GETSMS_PASSWORD": "nope"})
    answer = run(GetSmsIntegration, settings, wrong, lambda i: i.connect())
    assert answer.ok is False and "Incorrect Login or Password" in answer.result.description
    getsms.blocked()
    answer = run(GetSmsIntegration, settings, cid, lambda i: i.update_settings())
    assert answer.ok is False and "Your account is blocked" in answer.result.description
    assert getsms.delivered == []


def test_missing_settings(redis_url: str, regos: FakeRegos, getsms: FakeGetSms) -> None:
    cid = new_cid()
    regos.add_connected_integration(cid, "getsms", settings={"GETSMS_LOGIN": "shop"})
    settings = make_settings(redis_url, regos, getsms_base_url=getsms.base_url)
    with pytest.raises(SettingsError, match="GETSMS_PASSWORD"):
        send(GetSmsIntegration, settings, cid, "cx", messages(1))
    answer = run(GetSmsIntegration, settings, cid, lambda i: i.connect())
    assert answer.ok is False and "GETSMS_PASSWORD" in answer.result.description
    assert getsms.requests == []


def test_missing_base_url(env, redis_url: str, regos) -> None:
    cid, _ = env
    settings = make_settings(redis_url, regos, getsms_base_url=None)
    with pytest.raises(SettingsError, match="GETSMS_BASE_URL"):
        send(GetSmsIntegration, settings, cid, "cy", messages(1))
    assert run(GetSmsIntegration, settings, cid, lambda i: i.connect()).ok is False


def test_delivery_status_is_polled_and_stored(env, getsms: FakeGetSms) -> None:
    cid, settings = env
    outcomes = send(GetSmsIntegration, settings, cid, "cst", messages(2))
    first, second = (o.provider_id or "" for o in outcomes)
    getsms.set_status(second, "undelivered")

    async def poll_and_read() -> tuple[dict, dict | None, dict | None]:
        from tests.sms import with_integration

        polled = await with_integration(
            GetSmsIntegration, settings, cid, lambda i: i.poll_statuses([first, second, "999"])
        )
        redis = Redis.from_url(settings.redis_url)
        try:
            return polled, await status.get_status(redis, cid, first), await status.get_status(redis, cid, second)
        finally:
            await redis.aclose()

    polled, stored_first, stored_second = asyncio.run(poll_and_read())
    assert polled == {"statuses": {first: "delivered", second: "undelivered"}, "final": [first, second]}
    assert stored_first is not None and stored_first["status"] == "delivered"
    assert stored_first["recipient"] == "********0000" and stored_first["request_id"] == first
    assert stored_second is not None and stored_second["status"] == "undelivered"
    (call,) = getsms.calls("/smsgateway/status/")
    assert json.loads(call.form()["data"]) == [{"request_id": first}, {"request_id": second}, {"request_id": "999"}]


# --- the fake refuses what GetSMS refuses ---------------------------------------------------------
def test_fake_is_strict(getsms: FakeGetSms) -> None:
    data = json.dumps([{"phone": "998901234567", "text": "x"}])
    with httpx2.Client(base_url=getsms.url) as http:
        as_json = http.post("/smsgateway/", json={"login": "shop", "password": PASSWORD, "data": data})
        assert as_json.status_code == 200 and as_json.json()[0]["error_no"] == 100
        assert http.post("/smsgateway", data={"login": "shop", "password": PASSWORD, "data": data}).status_code == 404
        assert http.post("/smsgateway/x", data={"login": "shop", "password": PASSWORD, "data": data}).status_code == 404
        too_many = json.dumps([{"phone": "998901234567", "text": "x"}] * 51)
        answer = http.post("/smsgateway/", data={"login": "shop", "password": PASSWORD, "data": too_many}).json()
        assert answer[0]["error_no"] == 201
        answer = http.post("/smsgateway/", data={"login": "shop", "password": PASSWORD, "data": "{"}).json()
        assert answer[0]["error_no"] == 200
        answer = http.post("/smsgateway/", data={"login": "shop", "password": "bad", "data": data}).json()
        assert answer == [{"error": 1, "error_no": 101, "text": "Incorrect Login or Password"}]
    assert getsms.delivered == []
