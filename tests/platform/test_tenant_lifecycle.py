"""The tenant check against lifecycle actions, through the real stack (HTTP → worker → fakes).

shared/docs/regos-contract.md §2: Disconnect and UpdateSettings must reach the integration even
when REGOS no longer lists the connected integration as active (it has to clean up: delete its
Telegram webhook); Connect and Reconnect must not be refused by a cached "inactive".
"""

from __future__ import annotations

from tests.harness import Stack

GETSMS_SETTINGS = {"GETSMS_LOGIN": "shop", "GETSMS_PASSWORD": "s3cret-pass"}
WEBHOOK = {"action": "DocChequeClosed", "data": {"uuid": "c0ffee00-0000-0000-0000-000000000001"}}


def _finish(stack: Stack, response_json: dict) -> dict:
    """A lifecycle answer: the integration's result, or (slow) the final state of its task."""
    result = response_json["result"]
    if isinstance(result, dict) and result.get("status") == "queued" and "task_id" in result:
        view = stack.wait_task(result["task_id"])
        assert view["state"] == "SUCCESS", view
        return view["result"]
    return response_json


def test_disconnect_of_an_inactive_integration_deletes_the_telegram_webhook(stack: Stack) -> None:
    token = "123456:inactive-disconnect"
    cid = stack.new_cid("regos_telegram_notifier", {"BOT_TOKEN": token}, active=False)
    telegram = stack.fakes["telegram"]
    before = len(telegram.calls(f"/bot{token}/deleteWebhook"))

    answer = _finish(stack, stack.call("regos_telegram_notifier", "Disconnect", cid).json())

    assert answer["ok"] is True, answer
    assert len(telegram.calls(f"/bot{token}/deleteWebhook")) == before + 1


def test_disconnect_of_an_integration_deleted_in_regos_still_reaches_it(stack: Stack) -> None:
    cid = stack.new_cid("getsms", GETSMS_SETTINGS)
    with stack.regos.lock:
        del stack.regos.connected_integrations[cid]  # ConnectedIntegration/Get now answers []
    answer = _finish(stack, stack.call("getsms", "Disconnect", cid).json())
    assert answer["ok"] is True, answer


def test_update_settings_of_an_inactive_integration_reaches_it(stack: Stack) -> None:
    cid = stack.new_cid("getsms", GETSMS_SETTINGS, active=False)
    answer = _finish(stack, stack.call("getsms", "UpdateSettings", cid).json())
    assert answer["ok"] is True, answer
    assert not stack.regos.api_calls(f"{cid}/v1/ConnectedIntegration/Get")  # no tenant check at all


def test_connect_right_after_activation_ignores_a_cached_inactive(stack: Stack) -> None:
    cid = stack.new_cid("getsms", GETSMS_SETTINGS, active=False)
    # A webhook while inactive: refused, and "inactive" is now cached for TENANT_CACHE_SECONDS.
    refused = stack.call("getsms", "HandleWebhook", cid, WEBHOOK, event_id=f"evt-{cid}").json()
    view = stack.wait_task(refused["result"]["task_id"])
    assert view["state"] == "FAILURE" and "not active in REGOS" in view["error"], view

    with stack.regos.lock:
        stack.regos.connected_integrations[cid]["is_active"] = True  # the user switched it on
    answer = _finish(stack, stack.call("getsms", "Connect", cid).json())
    assert answer["ok"] is True, answer

    # The fresh answer replaced the cached one: the next webhook is not refused either.
    later = stack.call("getsms", "HandleWebhook", cid, WEBHOOK, event_id=f"evt2-{cid}").json()
    assert stack.wait_task(later["result"]["task_id"])["state"] == "SUCCESS"


def test_reconnect_ignores_a_cached_inactive(stack: Stack) -> None:
    cid = stack.new_cid("getsms", GETSMS_SETTINGS, active=False)
    refused = stack.call("getsms", "HandleWebhook", cid, WEBHOOK, event_id=f"evt-{cid}").json()
    assert stack.wait_task(refused["result"]["task_id"])["state"] == "FAILURE"
    with stack.regos.lock:
        stack.regos.connected_integrations[cid]["is_active"] = True
    answer = _finish(stack, stack.call("getsms", "Reconnect", cid).json())
    assert answer["ok"] is True, answer
