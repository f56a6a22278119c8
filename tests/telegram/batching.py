"""Helpers of the batch and digest tests: a batch of webhooks through `handle_webhooks`, and
REGOS calls counted per connected integration on the fake."""

from __future__ import annotations

import uuid
from typing import Any

from schemas.envelope import WebhookCall, WebhookEvent
from tests.telegram import Env


def event_id() -> str:
    return f"evt-{uuid.uuid4().hex}"


def webhook(action: str, uuid_: str, evt: str | None = None) -> WebhookEvent:
    return WebhookEvent(call=WebhookCall(action=action, data={"uuid": uuid_}), event_id=evt or event_id())


def batch(env: Env, events: list[WebhookEvent]) -> list[Any]:
    return env.call(lambda i: i.handle_webhooks(events))


def regos_calls(env: Env, method: str) -> int:
    """REGOS calls of this connected integration to `method` (exact: `/gateway/out/{cid}/v1/{method}`)."""
    path = f"/gateway/out/{env.cid}/v1/{method}"
    return sum(1 for r in env.regos.calls() if r.path == path)
