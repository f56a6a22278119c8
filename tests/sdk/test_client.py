"""`RegosAPI.call()` against FakeRegos over HTTP: envelopes, auth, 429, retries, pagination."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from regos_sdk import (
    RegosAPI,
    RegosAPIError,
    RegosAuthError,
    RegosRateLimited,
    RegosServerError,
    RegosTransportError,
    aclose_shared,
)
from regos_sdk.client import shared_http, shared_redis
from schemas.api.docs.cheque import Cheque
from settings import Settings
from tests.fakes.regos import FakeRegos

CHEQUE_GET = "DocCheque/Get"


def run_api(settings: Settings, cid: str, body: Callable[[RegosAPI], Any], **kwargs: Any) -> Any:
    async def scenario() -> Any:
        try:
            async with RegosAPI(cid, settings=settings, **kwargs) as api:
                return await body(api)
        finally:
            await aclose_shared()

    return asyncio.run(scenario())


def test_raw_and_typed_call(fake: FakeRegos, make_settings: Callable[..., Settings], cid: str) -> None:
    fake.add_cheque("c1", amount=12.3, code=7)

    async def body(api: RegosAPI) -> tuple[Any, list[Cheque]]:
        return await api.call(CHEQUE_GET, {"uuids": ["c1"]}), await api.call(CHEQUE_GET, {}, list[Cheque])

    raw, typed = run_api(make_settings(), cid, body, request_id="req-42")
    assert raw[0]["uuid"] == "c1"
    assert typed[0].code == "7" and str(typed[0].amount) == "12.3"
    call = fake.api_calls(CHEQUE_GET)[0]
    assert call.path == f"/gateway/out/{cid}/v1/{CHEQUE_GET}"
    assert call.headers["x-request-id"] == "req-42"
    assert call.headers["authorization"] == "Bearer tok-1"
    assert fake.token_requests == 1


def test_error_envelope_is_permanent_and_named(fake: FakeRegos, make_settings: Callable, cid: str) -> None:
    with pytest.raises(RegosAPIError) as info:
        run_api(make_settings(), cid, lambda api: api.call("DocNothing/Get", {}))
    exc = info.value
    assert (exc.code, exc.description, exc.retryable) == (404, "Method DocNothing/Get not found", False)
    assert str(exc) == f"DocNothing/Get for {cid}: REGOS error 404: Method DocNothing/Get not found"
    assert exc.method == "DocNothing/Get" and exc.connected_integration_id == cid
    assert len(fake.api_calls()) == 1  # not retried


def test_4xx_is_permanent(fake: FakeRegos, make_settings: Callable, cid: str) -> None:
    fake.fail_next(
        status=403, body={"ok": False, "result": {"error": 403, "description": "Forbidden"}}, path_contains="/gateway/"
    )
    with pytest.raises(RegosAPIError) as info:
        run_api(make_settings(), cid, lambda api: api.call(CHEQUE_GET, {}))
    assert not isinstance(info.value, RegosServerError) and info.value.status == 403
    assert len(fake.api_calls()) == 1


def test_revoked_token_is_refreshed_once(fake: FakeRegos, make_settings: Callable, cid: str) -> None:
    settings = make_settings()
    run_api(settings, cid, lambda api: api.call(CHEQUE_GET, {}))
    fake.revoke_tokens()
    assert run_api(settings, cid, lambda api: api.call(CHEQUE_GET, {})) == []
    assert fake.token_requests == 2
    assert fake.api_calls()[-1].headers["authorization"] == "Bearer tok-2"


def test_second_401_is_auth_error(fake: FakeRegos, make_settings: Callable, cid: str) -> None:
    fake.fail_next(times=2, status=401, path_contains="/gateway/")
    with pytest.raises(RegosAuthError) as info:
        run_api(make_settings(), cid, lambda api: api.call(CHEQUE_GET, {}))
    assert not info.value.retryable and "tok-" not in str(info.value)


def test_bad_client_credentials(fake: FakeRegos, make_settings: Callable, cid: str) -> None:
    with pytest.raises(RegosAuthError) as info:
        run_api(make_settings(regos_oauth_client_secret="wrong"), cid, lambda api: api.call(CHEQUE_GET, {}))
    assert "wrong" not in str(info.value) and not fake.api_calls()


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_429_short_retry_after_is_waited_inline(fake: FakeRegos, make_settings: Callable, cid: str, form: str) -> None:
    value = "1" if form == "seconds" else email.utils.formatdate(time.time() + 2, usegmt=True)
    fake.fail_next(status=429, headers={"Retry-After": value}, path_contains=CHEQUE_GET)
    started = time.monotonic()
    assert run_api(make_settings(), cid, lambda api: api.call(CHEQUE_GET, {})) == []
    assert time.monotonic() - started >= 0.9
    assert len(fake.api_calls()) == 2


def test_long_retry_after_raises_and_cools_down_everyone(fake: FakeRegos, make_settings: Callable, cid: str) -> None:
    settings = make_settings()
    fake.fail_next(status=429, headers={"Retry-After": "120"}, path_contains="/gateway/")
    started = time.monotonic()
    with pytest.raises(RegosRateLimited) as info:
        run_api(settings, cid, lambda api: api.call(CHEQUE_GET, {}))
    assert info.value.retryable and info.value.retry_after == pytest.approx(120)
    with pytest.raises(RegosRateLimited) as second:
        run_api(settings, cid, lambda api: api.call(CHEQUE_GET, {}))
    assert second.value.retry_after == pytest.approx(120, abs=1)
    assert time.monotonic() - started < 1.0
    assert len(fake.api_calls()) == 1  # the second call never reached REGOS


def test_5xx_then_success(fake: FakeRegos, make_settings: Callable, cid: str) -> None:
    fake.fail_next(times=2, status=502, path_contains="/gateway/")
    assert run_api(make_settings(), cid, lambda api: api.call(CHEQUE_GET, {})) == []
    assert len(fake.api_calls()) == 3


def test_retry_exhaustion_raises_server_error(fake: FakeRegos, make_settings: Callable, cid: str) -> None:
    fake.fail_next(times=10, status=500, path_contains="/gateway/")
    started = time.monotonic()
    with pytest.raises(RegosServerError) as info:
        run_api(make_settings(), cid, lambda api: api.call(CHEQUE_GET, {}))
    assert info.value.retryable and info.value.status == 500
    assert len(fake.api_calls()) == 3
    assert time.monotonic() - started < 5


def test_non_idempotent_method_is_not_retried_on_5xx(fake: FakeRegos, make_settings: Callable, cid: str) -> None:
    fake.fail_next(times=10, status=500, path_contains="/gateway/")
    with pytest.raises(RegosServerError):
        run_api(make_settings(), cid, lambda api: api.call("DocCheque/Add", {}))
    assert len(fake.api_calls()) == 1


def test_timeout_becomes_transport_error(fake: FakeRegos, make_settings: Callable, cid: str) -> None:
    fake.fail_next(times=3, status=200, delay=1.5, path_contains="/gateway/")
    with pytest.raises(RegosTransportError) as info:
        run_api(make_settings(regos_timeout_seconds=0.2), cid, lambda api: api.call(CHEQUE_GET, {}))
    assert info.value.retryable and "ReadTimeout" in str(info.value)
    assert len(fake.api_calls()) == 3


def test_rate_limit_wait_too_long_raises_without_calling(fake: FakeRegos, make_settings: Callable, cid: str) -> None:
    settings = make_settings(
        regos_rate_limit_per_second=0.5, regos_rate_limit_burst=1, regos_max_inline_wait_seconds=0.5
    )

    async def body(api: RegosAPI) -> None:
        await api.call(CHEQUE_GET, {})
        await api.call(CHEQUE_GET, {})

    with pytest.raises(RegosRateLimited) as info:
        run_api(settings, cid, body)
    assert info.value.retry_after == pytest.approx(2.0, abs=0.1)
    assert len(fake.api_calls()) == 1


def test_pagination_follows_next_offset(fake: FakeRegos, make_settings: Callable, cid: str) -> None:
    for n in range(7):
        fake.add_cheque(f"c{n}", amount=n)

    async def body(api: RegosAPI) -> list[Cheque]:
        return [c async for c in api.paginate(CHEQUE_GET, {}, Cheque, limit=3)]

    rows = run_api(make_settings(), cid, body)
    assert [c.uuid for c in rows] == [f"c{n}" for n in range(7)]
    assert [c.json()["offset"] for c in fake.api_calls(CHEQUE_GET)] == [0, 3, 6]


def test_token_never_logged(
    fake: FakeRegos, make_settings: Callable, cid: str, caplog: pytest.LogCaptureFixture
) -> None:
    fake.add_cheque("c1")
    with caplog.at_level(logging.DEBUG, logger="regos_sdk"):
        run_api(make_settings(), cid, lambda api: api.call(CHEQUE_GET, {}))
    lines = [r.getMessage() for r in caplog.records]
    assert any(CHEQUE_GET in line and "status=200" in line and cid in line for line in lines)
    assert not any("tok-1" in line or "gateway-secret" in line for line in lines)


def test_shared_clients_are_per_loop() -> None:
    async def scenario() -> tuple[bool, bool, bool]:
        same = shared_http() is shared_http() and shared_redis("redis://x/0") is shared_redis("redis://x/0")
        http = shared_http()
        await aclose_shared()
        return same, http.is_closed, shared_http() is not http

    assert asyncio.run(scenario()) == (True, True, True)
