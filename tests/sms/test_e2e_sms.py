"""SMS end to end: REGOS SendMessages → API → Celery worker → FakeEskiz / FakeGetSms → result.

The fakes are session-wide; each test uses its own connected integration and its own provider
account (Eskiz email / GetSMS login), and counts only that account's deliveries.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlsplit

import pytest

from tests.harness import Stack, wait_until


def _data(n: int, text: str = "Kod {i}") -> list[dict[str, str]]:
    return [{"recipient": f"+998 91 {i:07d}", "message": text.format(i=i)} for i in range(n)]


def _send(stack: Stack, key: str, cid: str, data: list, timeout: float = 90.0) -> dict:
    response = stack.call(key, "SendMessages", cid, data)
    assert response.status_code == 200, response.text
    view = stack.wait_task(response.json()["result"]["task_id"], timeout=timeout)
    assert view["state"] == "SUCCESS", view
    return view["result"]


def _eskiz_cid(stack: Stack) -> tuple[str, str]:
    email = f"{uuid.uuid4().hex[:10]}@shop.uz"
    return stack.new_cid("eskiz_sms", {"ESKIZ_EMAIL": email, "ESKIZ_PASSWORD": "pw-123456"}), email


def test_eskiz_1000_messages_exactly_once_in_batches(stack: Stack, fresh_fakes) -> None:
    eskiz = stack.fakes["eskiz"]
    cid, email = _eskiz_cid(stack)
    result = _send(stack, "eskiz_sms", cid, _data(1000))
    assert (result["total"], result["accepted"], result["failed"], result["unknown"]) == (1000, 1000, 0, 0)
    assert (result["reconciled"], result["resent"], result["unresolved"], result["complete"]) == (0, 0, 0, True)
    counts = eskiz.delivered_counts(email)
    assert len(counts) == 1000 and set(counts.values()) == {1}
    batches = [c.json() for c in eskiz.calls("send-batch") if cid in (c.json() or {}).get("callback_url", "")]
    assert len(batches) == 10 and all(len(b["messages"]) <= 100 for b in batches)
    assert eskiz.logins_by_account[email] == 1
    assert result["messages"][5]["provider_id"] in counts


def test_eskiz_survives_500s_and_429s_without_duplicates(stack: Stack, fresh_fakes) -> None:
    eskiz = stack.fakes["eskiz"]
    cid, email = _eskiz_cid(stack)
    eskiz.random_failures(0.3, 500, seed=7)
    eskiz.random_failures(0.1, 429, headers={"Retry-After": "0.3"})
    result = _send(stack, "eskiz_sms", cid, _data(1000), timeout=120)
    assert result["accepted"] == 1000, {k: v for k, v in result.items() if k != "messages"}
    counts = eskiz.delivered_counts(email)
    assert len(counts) == 1000 and set(counts.values()) == {1}
    calls = [c for c in eskiz.calls("send-batch") if cid in (c.json() or {}).get("callback_url", "")]
    assert len(calls) > 10  # some calls failed and were retried


def test_eskiz_delivery_reports_through_the_api(stack: Stack, fresh_fakes) -> None:
    eskiz = stack.fakes["eskiz"]
    cid, email = _eskiz_cid(stack)
    _send(stack, "eskiz_sms", cid, _data(3))
    rows = [r for r in eskiz.delivered if r["account"] == email]
    callback = urlsplit(rows[0]["callback_url"])
    for row in rows:
        response = stack.client.post(f"{callback.path}?{callback.query}", data=eskiz.delivery_report(row, "DELIVRD"))
        assert response.status_code == 200, response.text
    forged = stack.client.post(f"{callback.path}?sig=forged", data=eskiz.delivery_report(rows[0], "UNDELIV"))
    assert forged.status_code == 403

    def delivered() -> bool:
        return all(stack.redis.hget(f"gw:sms:status:{cid}:{r['user_sms_id']}", "status") == b"DELIVRD" for r in rows)

    wait_until(delivered, timeout=20, what="delivery reports stored")
    chunk_outcome = stack.redis.hgetall(f"gw:sms:status:{cid}:{rows[0]['user_sms_id']}")
    assert chunk_outcome[b"recipient"].endswith(rows[0]["phone"][-4:].encode())
    assert b"998" not in chunk_outcome[b"recipient"]


def test_getsms_batches_of_50_and_invalid_items(stack: Stack, fresh_fakes) -> None:
    getsms = stack.fakes["getsms"]
    login = f"shop-{uuid.uuid4().hex[:8]}"
    cid = stack.new_cid("getsms", {"GETSMS_LOGIN": login, "GETSMS_PASSWORD": "pw-123456"})
    data = _data(230)
    data[10] = {"recipient": "12345", "message": "bad"}
    data[20] = {"recipient": "+998 91 1234567", "message": ""}
    result = _send(stack, "getsms", cid, data)
    assert (result["total"], result["accepted"], result["invalid"]) == (230, 228, 2)
    assert result["messages"][10]["status"] == "invalid" and result["messages"][20]["status"] == "invalid"
    counts = getsms.delivered_counts(login)
    assert len(counts) == 228 and set(counts.values()) == {1}
    sizes = sorted(len(json.loads(c.form()["data"])) for c in getsms.calls() if c.form().get("login") == login)
    assert sizes == [28, 50, 50, 50, 50]


@pytest.mark.parametrize("rate", [0.3])
def test_getsms_with_500s_exactly_once(stack: Stack, fresh_fakes, rate: float) -> None:
    getsms = stack.fakes["getsms"]
    login = f"shop-{uuid.uuid4().hex[:8]}"
    cid = stack.new_cid("getsms", {"GETSMS_LOGIN": login, "GETSMS_PASSWORD": "pw-123456"})
    getsms.random_failures(rate, 500, seed=3)
    result = _send(stack, "getsms", cid, _data(500), timeout=120)
    assert result["accepted"] == 500
    counts = getsms.delivered_counts(login)
    assert len(counts) == 500 and set(counts.values()) == {1}
