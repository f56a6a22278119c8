"""EskizSmsIntegration against FakeEskiz and FakeRegos over HTTP, with a private Redis."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

import pytest
from redis.asyncio import Redis

from integrations.errors import PermanentError, SettingsError, TransientError
from integrations.eskiz_sms import EskizSmsIntegration, dispatch_id_for, user_sms_id_for
from integrations.eskiz_sms.tokens import PREFIX as TOKEN_PREFIX
from integrations.guards import SMS_CALLBACK_PURPOSE
from integrations.signing import token_matches
from integrations.sms.status import get_status
from schemas.envelope import ExternalRequest
from tests.fakes.regos import FakeRegos
from tests.fakes.sms import FakeEskiz
from tests.sms import ESKIZ_EMAIL as EMAIL
from tests.sms import ESKIZ_PASSWORD as PASSWORD
from tests.sms import make_settings, messages, new_cid, run, send, with_integration


def _connect(regos: FakeRegos, **extra: str) -> str:
    cid = new_cid()
    regos.add_connected_integration(
        cid, "eskiz_sms", settings={"ESKIZ_EMAIL": EMAIL, "ESKIZ_PASSWORD": PASSWORD, **extra}
    )
    return cid


@pytest.fixture
def env(redis_url: str, regos: FakeRegos, eskiz: FakeEskiz):
    return _connect(regos), make_settings(redis_url, regos, eskiz_base_url=eskiz.url)


def _report(request_id, row, status="DELIVRD", date="2026-11-26 10:00:00") -> dict:
    return {
        "request_id": request_id,
        "message_id": row["message_id"],
        "user_sms_id": row["user_sms_id"],
        "phone_number": row["phone"],
        "sms_count": "1",
        "status": status,
        "status_date": date,
    }


def test_batch_accepted_with_ids_and_signed_callback(env, eskiz: FakeEskiz, redis_url: str) -> None:
    cid, settings = env
    chunk_id = f"eskiz_sms:{cid}:d1:0"
    msgs = messages(100)
    outcomes = send(EskizSmsIntegration, settings, cid, chunk_id, msgs)
    assert [o.status for o in outcomes] == ["accepted"] * 100
    assert len(eskiz.delivered) == 100 and eskiz.logins == 1
    body = eskiz.calls("/message/sms/send-batch")[0].json()
    assert body["from"] == "4546" and body["dispatch_id"] == dispatch_id_for(chunk_id)
    assert body["messages"][7] == {
        "user_sms_id": user_sms_id_for(f"{chunk_id}:7"),
        "to": 998900000007,
        "text": "Salom! Kod: 7",
    }
    assert len({m["user_sms_id"] for m in body["messages"]}) == 100
    assert all(len(m["user_sms_id"]) <= 40 for m in body["messages"])
    assert outcomes[7].provider_id == body["messages"][7]["user_sms_id"]
    url = urlsplit(body["callback_url"])
    assert url.netloc == "127.0.0.1:9" and url.path == f"/clients/eskiz_sms/external/{cid}/delivery"
    assert token_matches(settings.secret_key, SMS_CALLBACK_PURPOSE, cid, parse_qs(url.query)["sig"][0])
    assert eskiz.calls("/message/sms/send-batch")[0].headers["authorization"].startswith("Bearer ")

    # Same chunk again: nothing resent; another chunk: cached token, no new login.
    assert {o.status for o in send(EskizSmsIntegration, settings, cid, chunk_id, msgs)} == {"accepted"}
    send(EskizSmsIntegration, settings, cid, f"eskiz_sms:{cid}:d1:1", messages(100, start=100))
    assert len(eskiz.calls("/message/sms/send-batch")) == 2 and eskiz.logins == 1
    assert max(eskiz.delivered_counts().values()) == 1 and len(eskiz.delivered) == 200

    async def sealed_token() -> list[bytes]:
        redis = Redis.from_url(redis_url)
        try:
            return [
                await redis.get(k) async for k in redis.scan_iter(f"{TOKEN_PREFIX}{cid}:*") if not k.endswith(b":lock")
            ]
        finally:
            await redis.aclose()

    stored = asyncio.run(sealed_token())
    assert len(stored) == 1 and b"eyJ." not in stored[0]  # encrypted at rest


def test_nickname_single_message_and_explicit_callback(redis_url: str, regos: FakeRegos, eskiz: FakeEskiz) -> None:
    cid = _connect(regos, ESKIZ_NICKNAME="MyShop", ESKIZ_CALLBACK_URL="https://hooks.example/eskiz")
    settings = make_settings(redis_url, regos, eskiz_base_url=eskiz.url)
    outcomes = send(EskizSmsIntegration, settings, cid, "one", messages(1, text="Привет, {i}"))
    assert outcomes[0].status == "accepted" and outcomes[0].segments == 1
    body = eskiz.calls("/message/sms/send-batch")[0].json()
    assert body["from"] == "MyShop" and body["callback_url"] == "https://hooks.example/eskiz"


def test_no_public_base_url_sends_without_callback(redis_url: str, regos: FakeRegos, eskiz: FakeEskiz) -> None:
    cid = _connect(regos)
    settings = make_settings(redis_url, regos, eskiz_base_url=eskiz.url, public_base_url=None)
    assert {o.status for o in send(EskizSmsIntegration, settings, cid, "nocb", messages(3))} == {"accepted"}
    assert "callback_url" not in eskiz.calls("/message/sms/send-batch")[0].json()


def test_401_mid_run_relogs_in_exactly_once(env, eskiz: FakeEskiz) -> None:
    cid, settings = env
    send(EskizSmsIntegration, settings, cid, "warm", messages(2))
    assert eskiz.logins == 1
    eskiz.expire_tokens()

    async def five_chunks():
        from tests.sms import with_integration as w

        return await asyncio.gather(
            *(
                w(
                    EskizSmsIntegration,
                    settings,
                    cid,
                    lambda i, n=n: i.send_chunk(f"{cid}:run:{n}", messages(20, start=n * 20)),
                )
                for n in range(5)
            )
        )

    results = asyncio.run(five_chunks())
    assert all(o.status == "accepted" for chunk in results for o in chunk)
    assert eskiz.logins == 2  # one re-login shared by all five chunks
    assert len(eskiz.delivered) == 102 and max(eskiz.delivered_counts().values()) == 1


def test_401_after_relogin_is_permanent_and_releases(env, eskiz: FakeEskiz) -> None:
    cid, settings = env
    send(EskizSmsIntegration, settings, cid, "warm", messages(1))
    eskiz.fail_next(2, 401, {"message": "Expired token"}, path_contains="send-batch")
    with pytest.raises(PermanentError, match="401 again"):
        send(EskizSmsIntegration, settings, cid, "c401", messages(4))
    assert eskiz.logins == 2, [(r.method, r.path, r.headers.get("authorization")) for r in eskiz.requests]
    assert {o.status for o in send(EskizSmsIntegration, settings, cid, "c401", messages(4))} == {"accepted"}


def test_bad_credentials_are_permanent(redis_url: str, regos: FakeRegos, eskiz: FakeEskiz) -> None:
    cid = new_cid()
    regos.add_connected_integration(cid, "eskiz_sms", settings={"ESKIZ_EMAIL": EMAIL, "ESKIZ_PASSWORD": "wrong-pass"})
    settings = make_settings(redis_url, regos, eskiz_base_url=eskiz.url)
    with pytest.raises(PermanentError) as info:
        send(EskizSmsIntegration, settings, cid, "cbad", messages(2))
    assert "ESKIZ_PASSWORD" in str(info.value) and "Invalid credentials" in str(info.value)
    assert "wrong-pass" not in str(info.value)
    eskiz.fail_next(1, 503, path_contains="/auth/login")  # a login outage is transient
    with pytest.raises(TransientError):
        send(EskizSmsIntegration, settings, cid, "cbad", messages(2))


def test_500_then_success(env, eskiz: FakeEskiz) -> None:
    cid, settings = env
    eskiz.fail_next(1, 500, {"message": "Server Error"}, path_contains="send-batch")
    with pytest.raises(TransientError, match="HTTP 500"):
        send(EskizSmsIntegration, settings, cid, "c500", messages(10))
    assert eskiz.delivered == []
    assert {o.status for o in send(EskizSmsIntegration, settings, cid, "c500", messages(10))} == {"accepted"}
    assert len(eskiz.delivered) == 10


def test_429_retry_after_http_date(env, eskiz: FakeEskiz) -> None:
    cid, settings = env
    import time
    from email.utils import formatdate

    eskiz.fail_next(
        1,
        429,
        {"message": "Too many"},
        path_contains="send-batch",
        headers={"Retry-After": formatdate(time.time() + 30, usegmt=True)},
    )
    with pytest.raises(TransientError) as info:
        send(EskizSmsIntegration, settings, cid, "c429", messages(2))
    assert 25 <= info.value.retry_after <= 31


def test_4xx_is_permanent_with_provider_text(env, eskiz: FakeEskiz) -> None:
    cid, settings = env
    eskiz.fail_next(1, 400, {"message": "Nickname SHOP is not approved " + "x" * 1000}, path_contains="send-batch")
    with pytest.raises(PermanentError) as info:
        send(EskizSmsIntegration, settings, cid, "c400", messages(2))
    text = str(info.value)
    assert "eskiz" in text and cid in text and "HTTP 400" in text and "Nickname SHOP is not approved" in text
    assert len(text) < 500


def test_read_timeout_is_reconciled_not_resent_then_resolved_by_report(env, eskiz: FakeEskiz, redis_url, regos) -> None:
    cid, _ = env
    settings = make_settings(redis_url, regos, eskiz_base_url=eskiz.url, provider_timeout_seconds=0.5)
    send(EskizSmsIntegration, settings, cid, "warm", messages(1))  # login outside the slow call
    eskiz.accept_then_hang(1, delay=3)
    with pytest.raises(TransientError, match="resolved on retry"):  # Eskiz took them; the answer was lost
        send(EskizSmsIntegration, settings, cid, "cslow", messages(3, start=10))
    outcomes = send(EskizSmsIntegration, settings, cid, "cslow", messages(3, start=10))  # the retry
    assert [(o.status, o.resolution) for o in outcomes] == [("accepted", "reconciled")] * 3
    assert len(eskiz.calls("send-batch")) == 2 and len(eskiz.delivered) == 4  # accepted once, never resent
    (lookup,) = eskiz.calls("/message/sms/get-user-messages-by-dispatch")
    assert lookup.form()["dispatch_id"] == str(dispatch_id_for(f"{cid}:cslow"))

    row = eskiz.delivered[1]
    uid = user_sms_id_for(f"{cid}:cslow:10")
    assert row["user_sms_id"] == uid

    async def flow():
        async def go(integration):
            before = await get_status(integration.ctx.redis, cid, uid)
            answer = await integration.handle_external(
                ExternalRequest(method="POST", path=f"{cid}/delivery", body=_report(row["request_id"], row))
            )
            return before, answer, await get_status(integration.ctx.redis, cid, uid)

        return await with_integration(EskizSmsIntegration, settings, cid, go)

    before, answer, after = asyncio.run(flow())
    # the reconciliation stored Eskiz's ids, so the report matches
    assert before["status"] == "waiting" and before["message_id"] == row["message_id"]
    assert before["request_id"] == row["request_id"]
    assert answer.ok and answer.result == {"updated": 1, "ignored": 0}
    assert after["status"] == "DELIVRD" and after["recipient"] == "********0010"


def test_delivery_reports_update_status(env, eskiz: FakeEskiz) -> None:
    cid, settings = env
    send(EskizSmsIntegration, settings, cid, "crep", messages(3))
    rows = list(eskiz.delivered)

    async def go(integration):
        redis = integration.ctx.redis
        uid = rows[0]["user_sms_id"]
        waiting = await get_status(redis, cid, uid)
        # form bodies arrive as dicts of strings; a list of reports is accepted too
        a = await integration.handle_external(
            ExternalRequest(method="POST", path=f"{cid}/delivery", body=[_report(r["request_id"], r) for r in rows[:2]])
        )
        b = await integration.handle_external(
            ExternalRequest(method="POST", path="delivery", body=_report(rows[2]["request_id"], rows[2], "UNDELIV"))
        )
        # a late intermediate report never overwrites a final status; an older final one neither
        await integration.handle_external(
            ExternalRequest(method="POST", path="delivery", body=_report(rows[0]["request_id"], rows[0], "TRANSMTD"))
        )
        await integration.handle_external(
            ExternalRequest(
                method="POST",
                path="delivery",
                body=_report(rows[0]["request_id"], rows[0], "EXPIRED", "2026-11-26 09:00:00"),
            )
        )
        bad = await integration.handle_external(ExternalRequest(method="POST", path=f"{cid}/other", body={}))
        junk = await integration.handle_external(ExternalRequest(method="POST", path="delivery", body={"x": 1}))
        return waiting, a, b, bad, junk, [await get_status(redis, cid, r["user_sms_id"]) for r in rows]

    waiting, a, b, bad, junk, statuses = run(EskizSmsIntegration, settings, cid, go)
    assert waiting["status"] == "waiting" and waiting["recipient"] == "********0000"
    assert waiting["request_id"] == rows[0]["request_id"]
    assert a.result == {"updated": 2, "ignored": 0} and b.result["updated"] == 1
    assert [s["status"] for s in statuses] == ["DELIVRD", "DELIVRD", "UNDELIV"]
    assert statuses[0]["message_id"] == rows[0]["message_id"]
    assert bad.ok is False and bad.result.error == 404
    assert junk.ok is True and junk.result == {"updated": 0, "ignored": 1}
    assert all("998" not in v for s in statuses for v in s.values())  # phones only masked


def test_fake_posts_reports_to_callback(env, eskiz: FakeEskiz) -> None:
    cid, settings = env
    send(EskizSmsIntegration, settings, cid, "ccb", messages(2))
    seen = []

    class Sink(FakeEskiz):
        def handle(self, request):
            seen.append(request.form())
            from tests.fakes.base import Reply

            return Reply(200, {"ok": True})

    with Sink() as sink:
        assert eskiz.send_delivery_reports(url=sink.url + "/cb") == [200, 200]
    assert {s["user_sms_id"] for s in seen} == set(eskiz.delivered_counts())


def test_missing_settings(redis_url: str, regos: FakeRegos, eskiz: FakeEskiz) -> None:
    cid = new_cid()
    regos.add_connected_integration(cid, "eskiz_sms", settings={"ESKIZ_PASSWORD": PASSWORD})
    settings = make_settings(redis_url, regos, eskiz_base_url=eskiz.url)
    with pytest.raises(SettingsError) as info:
        send(EskizSmsIntegration, settings, cid, "cx", messages(1))
    assert "ESKIZ_EMAIL" in str(info.value) and PASSWORD not in str(info.value)
    answer = run(EskizSmsIntegration, settings, cid, lambda i: i.connect())
    assert answer.ok is False and "ESKIZ_EMAIL" in answer.result.description
    assert eskiz.requests == []


def test_connect_ok(env) -> None:
    cid, settings = env
    assert run(EskizSmsIntegration, settings, cid, lambda i: i.connect()).ok is True
    assert run(EskizSmsIntegration, settings, cid, lambda i: i.update_settings()).result == {
        "status": "settings updated"
    }
