"""The SDK against REGOS's documented contract, and the fake's strictness that enforces it.

Sources: shared/docs/regos-contract.md §1, RFC 6749 (§2.3.1, §4.4, §5.2),
https://docs.regos.uz/ru/api/integrations (POST, `Content-Type: application/json`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from regos_sdk import RegosAPI, RegosAPIError, RegosAuthError, aclose_shared
from schemas.api.base import EditResult
from schemas.api.integrations.connected_integration import ConnectedIntegration
from settings import Settings
from tests.fakes.regos import FakeRegos, InBandError

FORM = "application/x-www-form-urlencoded"


def run_api(settings: Settings, cid: str, body: Callable[[RegosAPI], Any], **kwargs: Any) -> Any:
    async def scenario() -> Any:
        try:
            async with RegosAPI(cid, settings=settings, **kwargs) as api:
                return await body(api)
        finally:
            await aclose_shared()

    return asyncio.run(scenario())


# --- defect 1: the token request ------------------------------------------------------------


def test_token_request_is_form_encoded_and_labelled_so(fake: FakeRegos, make_settings: Callable, cid: str) -> None:
    assert run_api(make_settings(), cid, lambda api: api.call("DocCheque/Get", {})) == []
    token_call = fake.calls("/oauth/token")[0]
    assert token_call.method == "POST"
    assert token_call.headers["content-type"].split(";")[0] == FORM
    assert token_call.form() == {
        "grant_type": "client_credentials",
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
    }
    api_call = fake.api_calls("DocCheque/Get")[0]
    assert api_call.headers["content-type"] == "application/json"


def test_token_request_stays_form_even_on_a_client_defaulting_to_json(
    fake: FakeRegos, make_settings: Callable, cid: str
) -> None:
    """A caller's own client with a default JSON Content-Type must not relabel the OAuth form."""

    async def scenario() -> Any:
        async with httpx2.AsyncClient(headers={"Content-Type": "application/json"}) as http:
            api = RegosAPI(cid, settings=make_settings(), http=http)
            try:
                return await api.call("DocCheque/Get", {})
            finally:
                await aclose_shared()

    assert asyncio.run(scenario()) == []
    assert fake.calls("/oauth/token")[0].headers["content-type"].split(";")[0] == FORM


def test_refused_token_names_the_oauth_error(fake: FakeRegos, make_settings: Callable, cid: str) -> None:
    with pytest.raises(RegosAuthError) as info:
        run_api(make_settings(regos_oauth_client_secret="wrong"), cid, lambda api: api.call("DocCheque/Get", {}))
    assert "HTTP 401, invalid_client" in str(info.value) and "wrong" not in str(info.value)


def _post_token(fake: FakeRegos, **kwargs: Any) -> httpx2.Response:
    return httpx2.post(fake.url + "/oauth/token", timeout=5, **kwargs)


def test_fake_token_endpoint_is_a_strict_oauth_server(fake: FakeRegos) -> None:
    good = {"grant_type": "client_credentials", "client_id": fake.client_id, "client_secret": fake.client_secret}
    assert _post_token(fake, data=good).status_code == 200
    # The defect: a form body labelled JSON (RFC 6749 §5.2 invalid_request).
    from urllib.parse import urlencode

    labelled_json = _post_token(fake, content=urlencode(good), headers={"Content-Type": "application/json"})
    assert (labelled_json.status_code, labelled_json.json()["error"]) == (400, "invalid_request")
    as_json = _post_token(fake, json=good)
    assert (as_json.status_code, as_json.json()["error"]) == (400, "invalid_request")
    wrong_grant = _post_token(fake, data={**good, "grant_type": "password"})
    assert (wrong_grant.status_code, wrong_grant.json()["error"]) == (400, "unsupported_grant_type")
    wrong_secret = _post_token(fake, data={**good, "client_secret": "nope"})
    assert (wrong_secret.status_code, wrong_secret.json()["error"]) == (401, "invalid_client")


# --- defect 2: Edit methods without output ---------------------------------------------------


def test_setting_edit_accepts_a_null_result(fake: FakeRegos, make_settings: Callable, cid: str) -> None:
    fake.add_connected_integration(cid, "getsms", settings={"GETSMS_LOGIN": "old"})
    service = lambda api: api.integrations.connected_integration_setting  # noqa: E731

    result = run_api(make_settings(), cid, lambda api: service(api).edit([{"key": "GETSMS_LOGIN", "value": "new"}]))

    assert result is None
    assert fake.settings[cid] == {"GETSMS_LOGIN": "new"}
    raw = httpx2.post(  # and the fake answers exactly as documented
        f"{fake.url}/gateway/out/{cid}/v1/ConnectedIntegrationSetting/Edit",
        json=[{"key": "A", "value": "1", "connected_integration_id": cid}],
        headers={"Authorization": f"Bearer {_token(fake)}"},
        timeout=5,
    )
    assert raw.json() == {"ok": True, "result": None}


def test_setting_edit_refused_in_band_raises(fake: FakeRegos, make_settings: Callable, cid: str) -> None:
    def refuse(fake: FakeRegos, cid: str, body: Any) -> None:
        raise InBandError(1205, "Setting not found")

    original = FakeRegos.methods["ConnectedIntegrationSetting/Edit"]
    FakeRegos.register_method("ConnectedIntegrationSetting/Edit", refuse)
    try:
        with pytest.raises(RegosAPIError) as info:
            run_api(
                make_settings(),
                cid,
                lambda api: api.integrations.connected_integration_setting.edit([{"key": "K", "value": "v"}]),
            )
    finally:
        FakeRegos.register_method("ConnectedIntegrationSetting/Edit", original)
    assert info.value.code == 1205 and "Setting not found" in str(info.value)


@pytest.mark.parametrize(
    "result",
    [{"row_affected": 2, "ids": [5, None]}, {"ids": [None]}, {"row_affected": 1}, {}, {"new_id": 3, "extra": 1}],
)
def test_edit_result_tolerates_what_regos_may_send(result: dict[str, Any]) -> None:
    parsed = EditResult.model_validate(result)
    assert parsed.row_affected == result.get("row_affected")
    assert parsed.ids == result.get("ids")


# --- read models: rows may lack fields --------------------------------------------------------


def test_connected_integration_rows_may_lack_fields(fake: FakeRegos, make_settings: Callable, cid: str) -> None:
    fake.add_connected_integration(cid, "getsms", omit=("is_active", "key"))
    rows = run_api(make_settings(), cid, lambda api: api.integrations.connected_integration.get())
    assert rows == [ConnectedIntegration(connected_integration_id=cid, webhooks=[])]
    assert rows[0].is_active is None


def test_unknown_connected_integration_is_an_empty_list(fake: FakeRegos, make_settings: Callable, cid: str) -> None:
    assert run_api(make_settings(), cid, lambda api: api.integrations.connected_integration.get()) == []


# --- the fake's strictness ---------------------------------------------------------------------


def _token(fake: FakeRegos) -> str:
    good = {"grant_type": "client_credentials", "client_id": fake.client_id, "client_secret": fake.client_secret}
    return _post_token(fake, data=good).json()["access_token"]


@pytest.mark.parametrize(
    "path",
    [
        "/gateway/out/{cid}/v1/DocCheque/Get/",
        "/gateway/out/{cid}/v1/DocCheque/Get/extra",
        "/gateway/out/{cid}/v2/DocCheque/Get",
        "/gateway/out/{cid}/DocCheque/Get",
        "/prefix/gateway/out/{cid}/v1/DocCheque/Get",
        "/gateway/out/{cid}/v1/DocCheque",
    ],
)
def test_fake_paths_are_exact(fake: FakeRegos, cid: str, path: str) -> None:
    response = httpx2.post(
        fake.url + path.format(cid=cid), json={}, headers={"Authorization": f"Bearer {_token(fake)}"}, timeout=5
    )
    assert response.status_code == 404


def test_fake_refuses_a_body_not_labelled_json_and_unknown_tokens(fake: FakeRegos, cid: str) -> None:
    url = f"{fake.url}/gateway/out/{cid}/v1/DocCheque/Get"
    token = _token(fake)
    as_form = httpx2.post(url, content=b"{}", headers={"Authorization": f"Bearer {token}", "Content-Type": FORM})
    assert as_form.status_code == 415
    assert httpx2.post(url, json={}, headers={"Authorization": "Bearer forged"}).status_code == 401
    assert httpx2.post(url, json={}).status_code == 401


@pytest.mark.parametrize(
    ("method", "body", "fragment"),
    [
        ("DocCheque/Get", {"uuid": ["x"]}, "unknown field(s) uuid"),
        ("DocCheque/Get", {"uuids": "x"}, "field uuids has the wrong type"),
        ("DocCheque/Get", [], "must be a JSON object"),
        ("ConnectedIntegrationSetting/Edit", {"key": "K", "value": "v"}, "must be a JSON array"),
        ("ConnectedIntegrationSetting/Edit", [{"key": "K"}], "field value is required"),
        ("ConnectedIntegrationSetting/Edit", [{"key": "K", "value": "v", "secret": 1}], "unknown field(s) secret"),
        ("OperatingCash/Get", {"ids": ["1"]}, "field ids has the wrong type"),
    ],
)
def test_fake_checks_request_fields_in_band(fake: FakeRegos, cid: str, method: str, body: Any, fragment: str) -> None:
    response = httpx2.post(
        f"{fake.url}/gateway/out/{cid}/v1/{method}", json=body, headers={"Authorization": f"Bearer {_token(fake)}"}
    )
    assert response.status_code == 200
    envelope = response.json()
    assert envelope["ok"] is False and envelope["result"]["error"] == 400
    assert fragment in envelope["result"]["description"]


def test_fake_methods_can_be_registered_from_outside(fake: FakeRegos, cid: str) -> None:
    def get_partners(fake: FakeRegos, cid: str, body: Any) -> Any:
        return fake.page([{"id": n} for n in range(5)], body)

    FakeRegos.register_method("PartnerTest/Get", get_partners)
    try:
        response = httpx2.post(
            f"{fake.url}/gateway/out/{cid}/v1/PartnerTest/Get",
            json={"limit": 2, "offset": 2},
            headers={"Authorization": f"Bearer {_token(fake)}"},
        )
    finally:
        FakeRegos.methods.pop("PartnerTest/Get")
    assert response.json() == {"ok": True, "result": [{"id": 2}, {"id": 3}], "total": 5, "next_offset": 4}
