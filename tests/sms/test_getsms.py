"""GetSmsIntegration against FakeGetSms and FakeRegos over HTTP, with a private Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.errors import PermanentError, SettingsError, TransientError
from integrations.getsms import GetSmsIntegration
from tests.fakes.regos import FakeRegos
from tests.fakes.sms import FakeGetSms
from tests.sms import make_settings, messages, new_cid, run, send

PASSWORD = "getsms-pass-S3cret"


@pytest.fixture(scope="module")
def regos() -> Iterator[FakeRegos]:
    fake = FakeRegos().start()
    yield fake
    fake.stop()


@pytest.fixture
def getsms() -> Iterator[FakeGetSms]:
    fake = FakeGetSms(login="shop", password=PASSWORD).start()
    yield fake
    fake.stop()


@pytest.fixture
def env(redis_url: str, regos: FakeRegos, getsms: FakeGetSms):
    cid = new_cid()
    regos.add_connected_integration(
        cid, "getsms", settings={"GETSMS_LOGIN": "shop", "GETSMS_PASSWORD": PASSWORD, "GETSMS_NICKNAME": "SHOP"}
    )
    settings = make_settings(redis_url, regos, getsms_base_url=getsms.url + "/send")
    return cid, settings


def test_chunk_of_50_accepted_exactly_once(env, getsms: FakeGetSms) -> None:
    cid, settings = env
    msgs = messages(50)
    chunk_id = f"getsms:{cid}:d1:0"
    outcomes = send(GetSmsIntegration, settings, cid, chunk_id, msgs)
    assert [o.status for o in outcomes] == ["accepted"] * 50
    assert [o.index for o in outcomes] == list(range(50))
    assert outcomes[3].recipient == "********0003" and outcomes[3].segments == 1
    assert outcomes[0].provider_id == "1"
    assert len(getsms.delivered) == 50
    form = getsms.calls("/send")[0].form()
    assert form["login"] == "shop" and form["password"] == PASSWORD and form["nickname"] == "SHOP"

    again = send(GetSmsIntegration, settings, cid, chunk_id, msgs)  # a redelivered chunk task
    assert [o.status for o in again] == ["accepted"] * 50
    assert len(getsms.calls("/send")) == 1 and len(getsms.delivered) == 50


def test_500_is_transient_and_releases_claims(env, getsms: FakeGetSms) -> None:
    cid, settings = env
    getsms.fail_next(1, 500, {"error": "internal"})
    with pytest.raises(TransientError) as info:
        send(GetSmsIntegration, settings, cid, "c500", messages(10))
    assert "getsms" in str(info.value) and cid in str(info.value) and "HTTP 500" in str(info.value)
    outcomes = send(GetSmsIntegration, settings, cid, "c500", messages(10))
    assert {o.status for o in outcomes} == {"accepted"}
    assert len(getsms.delivered) == 10 and max(getsms.delivered_counts().values()) == 1


def test_429_carries_retry_after(env, getsms: FakeGetSms) -> None:
    cid, settings = env
    getsms.fail_next(1, 429, {"error": "too many requests"}, headers={"Retry-After": "7"})
    with pytest.raises(TransientError) as info:
        send(GetSmsIntegration, settings, cid, "c429", messages(3))
    assert info.value.retry_after == 7.0
    assert {o.status for o in send(GetSmsIntegration, settings, cid, "c429", messages(3))} == {"accepted"}


def test_4xx_is_permanent_with_provider_text_and_no_secret(env, getsms: FakeGetSms) -> None:
    cid, settings = env
    getsms.fail_next(1, 403, {"error": f"Balance is empty for {PASSWORD}"})
    with pytest.raises(PermanentError) as info:
        send(GetSmsIntegration, settings, cid, "c403", messages(3))
    text = str(info.value)
    assert "HTTP 403" in text and "Balance is empty" in text and cid in text
    assert PASSWORD not in text
    assert getsms.delivered == []


def test_read_timeout_is_unknown_and_never_resent(env, getsms: FakeGetSms, redis_url: str, regos) -> None:
    cid, _ = env
    settings = make_settings(redis_url, regos, getsms_base_url=getsms.url, provider_timeout_seconds=0.5)
    getsms.accept_then_hang(1, delay=3)
    outcomes = send(GetSmsIntegration, settings, cid, "cslow", messages(5))
    assert {o.status for o in outcomes} == {"unknown"}
    assert "ReadTimeout" in (outcomes[0].error or "")
    again = send(GetSmsIntegration, settings, cid, "cslow", messages(5))
    assert {o.status for o in again} == {"unknown"}
    assert len(getsms.calls()) == 1 and len(getsms.delivered) == 5


def test_connect_error_is_transient(env, redis_url: str, regos) -> None:
    cid, _ = env
    settings = make_settings(redis_url, regos, getsms_base_url="http://127.0.0.1:9/send")
    with pytest.raises(TransientError, match="ConnectError"):
        send(GetSmsIntegration, settings, cid, "cdown", messages(2))


def test_missing_settings(redis_url: str, regos: FakeRegos, getsms: FakeGetSms) -> None:
    cid = new_cid()
    regos.add_connected_integration(cid, "getsms", settings={"GETSMS_LOGIN": "shop"})
    settings = make_settings(redis_url, regos, getsms_base_url=getsms.url)
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


def test_connect_and_update_settings_ok(env) -> None:
    cid, settings = env
    assert run(GetSmsIntegration, settings, cid, lambda i: i.connect()).ok is True
    assert run(GetSmsIntegration, settings, cid, lambda i: i.update_settings()).ok is True
