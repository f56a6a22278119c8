"""Every error class of the ingress answers with its status and the REGOS error envelope."""

from __future__ import annotations

import pytest

from tests.harness import Stack

CID = "0123456789abcdef0123456789abcdef"


def _error(response, status: int) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert body["ok"] is False and body["result"]["error"] == status
    assert body["result"]["description"]
    return body["result"]["description"]


def test_unknown_client_is_404(stack: Stack) -> None:
    assert "unknown client" in _error(stack.call("nope", "Connect", CID), 404)


def test_malformed_json_is_400(stack: Stack) -> None:
    response = stack.client.post("/clients/getsms", content=b"{not json", headers={"Content-Type": "application/json"})
    assert "not valid JSON" in _error(response, 400)


def test_non_object_body_is_400(stack: Stack) -> None:
    _error(stack.client.post("/clients/getsms", json=[1, 2]), 400)


def test_missing_connected_integration_id_is_400(stack: Stack) -> None:
    assert "connected_integration_id" in _error(stack.call("getsms", "Connect", None), 400)


def test_bad_connected_integration_id_is_400(stack: Stack) -> None:
    _error(stack.call("getsms", "Connect", "../../etc/passwd"), 400)


def test_connected_integration_id_from_header(stack: Stack) -> None:
    response = stack.client.post(
        "/clients/getsms",
        json={"action": "HandleWebhook", "data": {"action": "X"}},
        headers={"connected-integration-id": CID},
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "action",
    [
        "__class__",
        "_private",
        "__init__",
        "send_chunk",
        "Ping",
        "a.b",
        "HANDLE",
        "handle-webhook",
        "",
        "settings_map",
        "SendMessages; drop",
    ],
)
def test_actions_outside_the_allow_list_are_refused(stack: Stack, action: str) -> None:
    status = 400
    _error(stack.call("getsms", action, CID), status)


def test_snake_case_actions_are_accepted(stack: Stack) -> None:
    response = stack.call("getsms", "handle_webhook", CID, {"action": "DocChequeClosed", "data": {}})
    assert response.status_code == 200, response.text


def test_send_messages_not_offered_by_integrations_without_it(stack: Stack) -> None:
    assert "unknown action" in _error(stack.call("getsms", "HandleExternal", CID), 400)


def test_webhook_without_inner_action_is_422(stack: Stack) -> None:
    _error(stack.call("getsms", "HandleWebhook", CID, {"data": {}}), 422)


@pytest.mark.parametrize("data", [None, {"recipient": "998901234567"}, [], [{"recipient": "1", "message": "x"}]])
def test_send_messages_without_any_valid_message_is_422(stack: Stack, data: object) -> None:
    _error(stack.call("getsms", "SendMessages", CID, data), 422)


def test_body_over_the_cap_is_413(stack: Stack) -> None:
    big = b'{"action": "Connect", "data": "' + b"x" * (9 * 1024 * 1024) + b'"}'
    _error(stack.client.post("/clients/getsms", content=big, headers={"Content-Type": "application/json"}), 413)


def test_tasks_need_the_operator_token(stack: Stack) -> None:
    _error(stack.client.get("/tasks/abc"), 401)
    _error(stack.client.get("/tasks/abc", headers={"Authorization": "Bearer wrong"}), 401)


def test_unknown_task_is_404_not_pending(stack: Stack) -> None:
    from tests.harness import OPERATOR_TOKEN

    _error(stack.client.get("/tasks/nope", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}), 404)


def test_health_and_ready(stack: Stack) -> None:
    assert stack.client.get("/health").json() == {"ok": True}
    assert stack.client.get("/ready").status_code == 200


def test_openapi_documents_the_contract(stack: Stack) -> None:
    spec = stack.client.get("/openapi.json").json()
    for path in (
        "/clients/{client}",
        "/tasks/{task_id}",
        "/tasks",
        "/health",
        "/ready",
        "/clients/{client}/external/{path}",
        "/external/{connected_integration_id}",
    ):
        assert path in spec["paths"], path
    examples = spec["paths"]["/clients/{client}"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert {"webhook", "send", "connect"} <= set(examples)
