"""Typed services and the encrypted settings cache."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from redis.asyncio import Redis

from regos_sdk import RegosAPI, aclose_shared
from schemas.api.docs.cheque import ChequeGetRequest
from settings import Settings
from tests.fakes.regos import FakeRegos


def run_api(settings: Settings, cid: str, body: Callable[[RegosAPI], Any]) -> Any:
    async def scenario() -> Any:
        try:
            async with RegosAPI(cid, settings=settings) as api:
                return await body(api)
        finally:
            await aclose_shared()

    return asyncio.run(scenario())


def test_typed_services(fake: FakeRegos, make_settings: Callable[..., Settings], cid: str) -> None:
    fake.add_connected_integration(cid, "regos_telegram_notifier", name="Shop bot", webhooks=["DocChequeClosed"])
    fake.add_operating_cash(5, stock_id=9, stock_name="Shop 9")
    session = fake.add_session("s1", operating_cash_id=5, start_amount=100.5)
    fake.add_cheque("c1", amount=2500.75, session="s1", extra_field="ignored")
    fake.add_cheque("c2", amount=10, session="other", is_return=True)

    async def body(api: RegosAPI) -> dict[str, Any]:
        return {
            "ci": await api.integrations.connected_integration.get(include_name=True),
            "cash": await api.references.operating_cash.get(stock_ids=[9]),
            "sessions": await api.docs.cash_session.get_by_uuids(["s1"]),
            "cheques": await api.docs.cheque.get_by_uuids(["c1", "missing"]),
            "by_session": await api.docs.cheque.get(ChequeGetRequest(session_uuid="other")),
            "empty": await api.docs.cheque.get_by_uuids([]),
        }

    got = run_api(make_settings(), cid, body)
    ci = got["ci"][0]
    assert (ci.connected_integration_id, ci.key, ci.is_active, ci.name) == (
        cid,
        "regos_telegram_notifier",
        True,
        "Shop bot",
    )
    assert ci.webhooks == ["DocChequeClosed"]
    assert got["cash"][0].id == 5 and got["cash"][0].stock.name == "Shop 9"
    s = got["sessions"][0]
    assert (s.uuid, s.code, s.operating_cash_id, s.closed, s.start_amount) == (
        "s1",
        session["code"],
        5,
        False,
        Decimal("100.5"),
    )
    cheque = got["cheques"][0]
    assert len(got["cheques"]) == 1 and cheque.amount == Decimal("2500.75") and cheque.session == "s1"
    assert got["by_session"][0].uuid == "c2" and got["by_session"][0].is_return is True
    assert got["empty"] == [] and len(fake.api_calls("DocCheque/Get")) == 2


def test_request_models_reject_typos() -> None:
    with pytest.raises(ValueError):
        ChequeGetRequest(uuid=["x"])  # type: ignore[call-arg]


def test_settings_map_cached_encrypted_and_invalidated(
    fake: FakeRegos,
    make_settings: Callable[..., Settings],
    cid: str,
    redis_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="regos_sdk")
    fake.add_connected_integration(
        cid, "eskiz_sms", settings={"ESKIZ_PASSWORD": "hunter2-secret", "Eskiz_Email": "a@b"}
    )
    settings = make_settings(settings_cache_seconds=60)
    service = lambda api: api.integrations.connected_integration_setting  # noqa: E731

    first = run_api(settings, cid, lambda api: service(api).get_map())
    assert first["eskiz_password"] == "hunter2-secret" and first["ESKIZ_EMAIL"] == "a@b"
    assert "eskiz_email" in first and "BOT_TOKEN" not in first
    assert "hunter2" not in repr(first)
    second = run_api(settings, cid, lambda api: service(api).get_map())
    assert dict(second) == dict(first)
    assert len(fake.api_calls("ConnectedIntegrationSetting/Get")) == 1  # served from the cache

    async def raw() -> tuple[bytes | None, int]:
        redis = Redis.from_url(redis_url)
        value, ttl = await redis.get(f"gw:regos:settings:{cid}"), await redis.ttl(f"gw:regos:settings:{cid}")
        await redis.aclose()
        return value, ttl

    value, ttl = asyncio.run(raw())
    assert value and b"hunter2" not in value and b"ESKIZ" not in value and 0 < ttl <= 60

    result = run_api(settings, cid, lambda api: service(api).edit([{"key": "eskiz_password", "value": "new-pass"}]))
    assert result is None  # REGOS: "no output", `{"ok": true, "result": null}`
    assert asyncio.run(raw())[0] is None
    third = run_api(settings, cid, lambda api: service(api).get_map())
    assert third["ESKIZ_PASSWORD"] == "new-pass"
    assert len(fake.api_calls("ConnectedIntegrationSetting/Get")) == 2
    edit_body = fake.api_calls("ConnectedIntegrationSetting/Edit")[0].json()
    assert edit_body == [{"key": "eskiz_password", "value": "new-pass", "connected_integration_id": cid}]
    uncached = run_api(settings, cid, lambda api: service(api).get_map(cached=False))
    assert uncached["eskiz_password"] == "new-pass"
    assert len(fake.api_calls("ConnectedIntegrationSetting/Get")) == 3
    assert not any("hunter2" in r.getMessage() or "new-pass" in r.getMessage() for r in caplog.records)
