"""A call travels the whole way: HTTP → queue → real worker → fake REGOS / GetSMS → result."""

from __future__ import annotations

import json
import time
import uuid

from tests.harness import Stack, wait_until

GETSMS_SETTINGS = {"GETSMS_LOGIN": "shop", "GETSMS_PASSWORD": "s3cret-pass", "GETSMS_NICKNAME": "SHOP"}


def test_send_messages_reaches_getsms_and_reports_per_message(stack: Stack) -> None:
    login = f"round-trip-{uuid.uuid4().hex[:8]}"
    cid = stack.new_cid("getsms", {**GETSMS_SETTINGS, "GETSMS_LOGIN": login})
    data = [{"recipient": f"+998 90 12{i:03d}-67", "message": f"Hello {i}"} for i in range(120)]
    data.append({"recipient": "12345", "message": "bad number"})

    response = stack.call("getsms", "SendMessages", cid, data)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True and body["result"]["status"] == "queued"
    view = stack.wait_task(body["result"]["task_id"])
    assert view["state"] == "SUCCESS", view
    result = view["result"]
    assert (result["total"], result["accepted"], result["invalid"]) == (121, 120, 1)
    assert result["messages"][120] == {
        "index": 120,
        "recipient": "",
        "status": "invalid",
        "error": "recipient is not a valid Uzbek phone number (998 and 9 digits)",
    }
    first = result["messages"][0]
    assert first["status"] == "accepted" and first["recipient"].endswith("0067") and "99890" not in first["recipient"]
    calls = stack.fakes["getsms"].sends()
    batch_sizes = sorted(len(json.loads(c.form()["data"])) for c in calls if c.form().get("login") == login)
    assert batch_sizes == [20, 50, 50]
    assert view["children"] == [f"{body['result']['task_id']}:{n}" for n in range(3)]


def test_webhook_is_acknowledged_before_the_worker_runs(stack: Stack) -> None:
    cid = stack.new_cid("getsms", GETSMS_SETTINGS)
    tenant = {"ok": True, "result": [{"connected_integration_id": cid, "key": "getsms", "is_active": True}]}
    stack.regos.fail_next(1, status=200, body=tenant, path_contains=f"{cid}/v1/ConnectedIntegration/Get", delay=1.5)

    started = time.monotonic()
    response = stack.call(
        "getsms", "HandleWebhook", cid, {"action": "DocChequeClosed", "data": {"uuid": "x"}}, event_id=f"evt-{cid}"
    )
    elapsed = time.monotonic() - started

    assert response.status_code == 200 and elapsed < 0.5, (response.text, elapsed)
    task_id = response.json()["result"]["task_id"]
    view = stack.wait_task(task_id)
    # getsms handles no webhooks: the task ends with a clear result, not a retry or failure
    assert view["state"] == "SUCCESS"
    assert view["result"] == {
        "ok": False,
        "result": {"error": 400, "description": "unsupported webhook DocChequeClosed for getsms"},
    }
    assert view["retries"] == 0


def test_duplicate_webhook_returns_the_original_task(stack: Stack) -> None:
    cid = stack.new_cid("getsms", GETSMS_SETTINGS)
    webhook = {"action": "DocChequeClosed", "data": {"uuid": "x"}}
    first = stack.call("getsms", "HandleWebhook", cid, webhook, event_id="evt-dup").json()["result"]
    second = stack.call("getsms", "HandleWebhook", cid, webhook, event_id="evt-dup").json()["result"]
    assert second == {"status": "queued", "task_id": first["task_id"], "duplicate": True}
    assert "duplicate" not in first


def test_lifecycle_answer_waits_for_a_fast_action(stack: Stack) -> None:
    cid = stack.new_cid("getsms", GETSMS_SETTINGS)
    response = stack.call("getsms", "Connect", cid)
    assert response.status_code == 200
    assert response.json()["ok"] is True
    assert "task_id" not in response.json()["result"], response.json()


def test_lifecycle_answer_falls_back_to_queued_for_a_slow_action(stack: Stack) -> None:
    cid = stack.new_cid("getsms", GETSMS_SETTINGS)
    # Tenant check and settings read take 1.5 s each (each under the 2 s REGOS timeout of the
    # test stack): together longer than LIFECYCLE_WAIT_SECONDS.
    tenant = {"ok": True, "result": [{"connected_integration_id": cid, "key": "getsms", "is_active": True}]}
    stack.regos.fail_next(1, status=200, body=tenant, path_contains=f"{cid}/v1/ConnectedIntegration/Get", delay=1.5)
    settings = {"ok": True, "result": [{"key": k, "value": v} for k, v in GETSMS_SETTINGS.items()]}
    stack.regos.fail_next(
        1, status=200, body=settings, path_contains=f"{cid}/v1/ConnectedIntegrationSetting/Get", delay=1.5
    )
    started = time.monotonic()
    response = stack.call("getsms", "Connect", cid)
    elapsed = time.monotonic() - started
    assert response.status_code == 200 and 2.4 < elapsed < 2.95, elapsed
    result = response.json()["result"]
    assert result["status"] == "queued"
    view = stack.wait_task(result["task_id"])
    assert view["state"] == "SUCCESS" and view["result"]["ok"] is True


def test_inactive_tenant_gets_nothing_sent(stack: Stack) -> None:
    cid = stack.new_cid("getsms", GETSMS_SETTINGS, active=False)
    before = len(stack.fakes["getsms"].calls())
    response = stack.call("getsms", "SendMessages", cid, [{"recipient": "998901234567", "message": "hi"}])
    task_id = response.json()["result"]["task_id"]
    wait_until(lambda: stack.task(task_id)["state"] == "FAILURE", what="tenant check failure")
    assert "not active in REGOS" in stack.task(task_id)["error"]
    assert len(stack.fakes["getsms"].calls()) == before
