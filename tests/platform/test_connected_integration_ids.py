"""Connected integration ids as REGOS issues them: letters and digits, not necessarily hex.

docs.regos.uz quick start (http://docs.regos.uz/ru/api/intro/quick-start) shows the id
`11v5929ba236415hb31346ede021bdi4`; shared/docs/regos-contract.md §2. The gateway validates
for safety (1-64 of [A-Za-z0-9]) and passes the id on exactly as received.
"""

from __future__ import annotations

import secrets

import pytest

from tests.harness import Stack

GETSMS_SETTINGS = {"GETSMS_LOGIN": "shop", "GETSMS_PASSWORD": "s3cret-pass"}
WEBHOOK = {"action": "DocChequeClosed", "data": {"uuid": "x"}}


def _add(stack: Stack, cid: str) -> str:
    stack.regos.add_connected_integration(cid, "getsms", settings=GETSMS_SETTINGS)
    return cid


@pytest.mark.parametrize(
    "cid",
    [
        "11v5929ba236415hb31346ede021bdi4",  # the docs' own example, made unique below
        "34r2vt4t5y56456378237eg2d32d5f25",  # docs.regos.uz/ru/integration/methods (Connect)
        "MixedCaseId",
        "7",
    ],
)
def test_regos_shaped_ids_travel_unchanged_to_regos(stack: Stack, cid: str) -> None:
    cid = _add(stack, cid[:-4] + secrets.token_hex(2) if len(cid) > 8 else cid + secrets.token_hex(4))
    response = stack.call("getsms", "HandleWebhook", cid, WEBHOOK, event_id=f"evt-{cid}")
    assert response.status_code == 200, response.text
    view = stack.wait_task(response.json()["result"]["task_id"])
    assert view["state"] == "SUCCESS", view
    # Not lowercased or otherwise altered: REGOS is called for exactly this id.
    assert stack.regos.api_calls(f"/gateway/out/{cid}/v1/ConnectedIntegration/Get")


def test_id_in_the_header_is_accepted(stack: Stack) -> None:
    cid = _add(stack, "hdr" + secrets.token_hex(14) + "xy")
    response = stack.client.post(
        "/clients/getsms",
        json={"action": "HandleWebhook", "data": WEBHOOK, "event_id": f"evt-{cid}"},
        headers={"connected-integration-id": cid},
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("bad", ["", "a" * 65, "abc-def", "abc def", "../etc", "ab_cd", "ид123"])
def test_unsafe_ids_are_refused(stack: Stack, bad: str) -> None:
    response = stack.call("getsms", "HandleWebhook", bad, WEBHOOK)
    assert response.status_code == 400, response.text
    assert "connected_integration_id" in response.text or "connected integration id" in response.text


def test_external_path_form_recognises_a_non_hex_id(stack: Stack) -> None:
    """`/external/{id}/...`: the worker learns the integration from ConnectedIntegration/Get."""
    cid = _add(stack, "ext" + secrets.token_hex(14) + "zz")
    response = stack.client.post(f"/external/{cid}/status", json={"any": "thing"})
    assert response.status_code == 200, response.text
    stack.wait_task(response.json()["result"]["task_id"])
    assert stack.regos.api_calls(f"/gateway/out/{cid}/v1/ConnectedIntegration/Get")


def test_external_path_form_refuses_an_unsafe_id(stack: Stack) -> None:
    response = stack.client.post("/external/" + "a" * 65 + "/status", json={})
    assert response.status_code == 400, response.text
