"""Documented Eskiz answers and callbacks (tests/contracts/eskiz/*.json) through the project's parsers.

Each file: `source`, `call` (login, send-batch, get-user-messages-by-dispatch, get-limit, callback),
`answer` (the body Eskiz sends), optional `status` (HTTP, default 200) and `expect`. Answers are
served over HTTP by FakeEskiz and parsed by `EskizClient`; callbacks go through
`EskizSmsIntegration.handle_external` into the status store. A new example is one file, no code.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from integrations.eskiz_sms import EskizSmsIntegration
from integrations.eskiz_sms.client import BatchItem, EskizClient
from integrations.sms.http import ProviderHTTPError
from integrations.sms.status import get_status, is_final
from schemas.envelope import ExternalRequest
from tests.fakes.regos import FakeRegos
from tests.fakes.sms import FakeEskiz
from tests.sms import make_settings, new_cid, with_integration

CASES = sorted((Path(__file__).resolve().parents[1] / "contracts" / "eskiz").glob("*.json"))
PATHS = {
    "login": "/auth/login",
    "send-batch": "/message/sms/send-batch",
    "get-user-messages-by-dispatch": "/message/sms/get-user-messages-by-dispatch",
    "get-limit": "/user/get-limit",
}


@pytest.fixture(scope="module")
def eskiz() -> Iterator[FakeEskiz]:
    fake = FakeEskiz().start()
    yield fake
    fake.stop()


async def _client_call(eskiz: FakeEskiz, call: str) -> Any:
    async with httpx2.AsyncClient() as http:
        client = EskizClient(http, eskiz.url, timeout=5)
        if call == "login":
            return {"token": await client.login("shop@example.uz", "pw-123456")}
        token = await client.login("shop@example.uz", "pw-123456")
        if call == "send-batch":
            answer = await client.send_batch(
                token, [BatchItem("a1", "998991234567", "Salom")], sender="4546", dispatch_id=1, callback_url=None
            )
            return {"request_id": answer.get("id")}
        if call == "get-user-messages-by-dispatch":
            rows = await client.messages_by_dispatch(token, 123)
            return {"user_sms_ids": [r.get("user_sms_id") for r in rows]}
        if call == "get-limit":
            return {"balance": await client.balance(token)}
        raise AssertionError(f"unknown call {call!r}")


def test_every_case_names_its_source() -> None:
    assert len(CASES) >= 10
    for path in CASES:
        case = json.loads(path.read_text())
        assert case["source"] and case["call"] in (*PATHS, "callback"), path.name


@pytest.mark.parametrize(
    "path", [c for c in CASES if json.loads(c.read_text())["call"] != "callback"], ids=lambda p: p.stem
)
def test_answer_parsed_by_the_client(path: Path, eskiz: FakeEskiz) -> None:
    case = json.loads(path.read_text())
    eskiz.fail_next(1, status=case.get("status", 200), body=case["answer"], path_contains=PATHS[case["call"]])
    try:
        if "error_status" in case["expect"]:
            with pytest.raises(ProviderHTTPError) as info:
                asyncio.run(_client_call(eskiz, case["call"]))
            assert info.value.status == case["expect"]["error_status"]
            assert case["expect"]["error_text"] in info.value.text
        else:
            assert asyncio.run(_client_call(eskiz, case["call"])) == case["expect"]
    finally:
        eskiz.clear_faults()


@pytest.mark.parametrize(
    "path", [c for c in CASES if json.loads(c.read_text())["call"] == "callback"], ids=lambda p: p.stem
)
def test_callback_stored_by_the_integration(path: Path, redis_url: str, regos: FakeRegos, eskiz: FakeEskiz) -> None:
    case = json.loads(path.read_text())
    cid = new_cid()
    regos.add_connected_integration(cid, "eskiz_sms", settings={"ESKIZ_EMAIL": "a@b.uz", "ESKIZ_PASSWORD": "pw"})
    settings = make_settings(redis_url, regos, eskiz_base_url=eskiz.url)
    uid = case["answer"]["user_sms_id"]

    async def go(integration: EskizSmsIntegration) -> tuple[Any, Any, Any]:
        request = ExternalRequest(method="POST", path=f"{cid}/delivery", body=case["answer"])
        first = await integration.handle_external(request)
        # the same report again, then an intermediate one arriving late: a final status stays
        await integration.handle_external(request)
        late = {"user_sms_id": uid, "status": "waiting"}
        await integration.handle_external(ExternalRequest(method="POST", path=f"{cid}/delivery", body=late))
        return first, await get_status(integration.ctx.redis, cid, uid), is_final(case["expect"]["status"])

    first, stored, final = asyncio.run(with_integration(EskizSmsIntegration, settings, cid, go))
    assert first.ok and first.result == {"updated": 1, "ignored": 0}
    assert final is case["expect"]["final"]
    assert stored["status"] == (case["expect"]["status"] if final else "waiting")


def test_the_fake_refuses_what_eskiz_refuses(eskiz: FakeEskiz) -> None:
    with httpx2.Client(base_url=eskiz.url) as http:
        assert http.post("/api/auth/login", data={"email": "a", "password": "b"}).status_code == 404  # exact paths
        assert http.post("/auth/login/", data={"email": "a", "password": "b"}).status_code == 404
        assert http.get("/auth/login").status_code == 405
        # a form body labelled JSON is not a form: the fields are missing
        mislabelled = http.post(
            "/auth/login", content=b"email=a&password=b", headers={"Content-Type": "application/json"}
        )
        assert mislabelled.status_code == 422 and "email" in mislabelled.json()["errors"]
        multipart = http.post("/auth/login", files={"email": (None, "a"), "password": (None, "b")})
        assert multipart.status_code == 200  # [OAS] documents multipart/form-data
        token = multipart.json()["data"]["token"]
        auth = {"Authorization": f"Bearer {token}"}
        batch = {"messages": [{"user_sms_id": "x", "to": 998991234567, "text": "t"}], "from": "4546", "dispatch_id": 1}
        assert http.post("/message/sms/send-batch", data={"messages": "x"}, headers=auth).status_code == 422
        assert http.post("/message/sms/send-batch", json={**batch, "dispatch_id": "1"}, headers=auth).status_code == 422
        assert http.post("/message/sms/send-batch", json=batch).status_code == 401
        assert http.post("/message/sms/send-batch", json=batch, headers=auth).status_code == 200
        lookup = http.post("/message/sms/get-user-messages-by-dispatch", data={"dispatch_id": "1"}, headers=auth)
        assert [r["user_sms_id"] for r in lookup.json()["data"]["result"]] == ["x"]
        status = http.post("/message/sms/get-dispatch-status", data={"dispatch_id": "1"}, headers=auth)
        assert status.json()["data"] == [{"status": "waiting", "total": 1}]
