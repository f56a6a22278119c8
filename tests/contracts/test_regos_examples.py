"""Every documented REGOS example under tests/contracts/regos/ goes through the project's own code.

A new example is one JSON file, no code: `{"_source": "<where it is documented>", ...}` with either
- `"call"`: a body REGOS posts to `POST /clients/{key}` → validated as the ingress does
  (`RegosCall`, the id rule, the action name, `WebhookCall` for HandleWebhook), or
- `"method"` + `"response"`: a REGOS API answer → served by FakeRegos over HTTP and parsed by the
  SDK service for that method (transport, envelope, result model), or raised as `RegosAPIError`.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from regos_sdk import RegosAPI, RegosAPIError, aclose_shared
from schemas.envelope import CONNECTED_INTEGRATION_ID, RegosCall, WebhookCall, canonical_action
from settings import Settings
from tests.fakes.regos import FakeRegos

EXAMPLES = sorted((Path(__file__).parent / "regos").glob("*.json"))

# The SDK call that reads each method's answer (a new method needs one line here).
READERS: dict[str, Callable[[RegosAPI], Any]] = {
    "ConnectedIntegration/Get": lambda api: api.integrations.connected_integration.get(),
    "ConnectedIntegrationSetting/Get": lambda api: api.integrations.connected_integration_setting.get(),
    "ConnectedIntegrationSetting/Edit": lambda api: api.integrations.connected_integration_setting.edit(
        [{"key": "K", "value": "v"}]
    ),
    "DocCheque/Get": lambda api: api.docs.cheque.get(),
    "DocCashSession/Get": lambda api: api.docs.cash_session.get(),
    "OperatingCash/Get": lambda api: api.references.operating_cash.get(),
}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeRegos]:
    server = FakeRegos(client_id=f"contracts-{uuid.uuid4().hex[:8]}").start()
    yield server
    server.stop()


def _settings(fake: FakeRegos, redis_url: str) -> Settings:
    return Settings(environment="test", redis_url=redis_url, settings_cache_seconds=0, **fake.settings_kwargs())


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_documented_example(path: Path, fake: FakeRegos, redis_url: str) -> None:
    example = json.loads(path.read_text())
    assert example.get("_source"), f"{path.name}: say where the example is documented (_source)"
    if "call" in example:
        _check_call(example["call"])
    else:
        _check_response(example["method"], example["response"], fake, redis_url)


def _check_call(body: dict[str, Any]) -> None:
    call = RegosCall.model_validate(body)
    assert call.connected_integration_id and re.match(CONNECTED_INTEGRATION_ID, call.connected_integration_id)
    assert canonical_action(call.action) is not None
    if call.action == "HandleWebhook":
        webhook = WebhookCall.model_validate(call.data)
        assert canonical_action(webhook.action) is not None


def _check_response(method: str, response: dict[str, Any], fake: FakeRegos, redis_url: str) -> None:
    cid = "ex" + uuid.uuid4().hex[:30]
    fake.fail_next(status=200, body=response, path_contains=f"/gateway/out/{cid}/v1/{method}")

    async def read() -> Any:
        try:
            async with RegosAPI(cid, settings=_settings(fake, redis_url)) as api:
                return await READERS[method](api)
        finally:
            await aclose_shared()

    if response.get("ok") is not True:
        with pytest.raises(RegosAPIError) as info:
            asyncio.run(read())
        assert info.value.code == response["result"]["error"]
        assert response["result"]["description"] in str(info.value)
        return
    parsed = asyncio.run(read())
    expected = response["result"]
    if expected is None:
        assert parsed is None
        return
    assert isinstance(parsed, list) and len(parsed) == len(expected)
    for row, raw in zip(parsed, expected, strict=True):
        for name, value in raw.items():  # what the model keeps, it keeps unchanged
            kept = getattr(row, name, None) if name in type(row).model_fields else None
            if kept is not None and not hasattr(kept, "model_dump"):
                assert str(kept) == str(value) or float(kept) == float(value), (name, kept, value)
