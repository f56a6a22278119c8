"""From a validated REGOS call to a queued task: what to enqueue, where, and its idempotency key."""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.errors import GatewayError
from integrations.registry import LIFECYCLE_ACTIONS, IntegrationSpec
from jobs import names
from jobs.publish import Published, Publisher
from jobs.records import RESULT_KEY_PREFIX
from schemas.envelope import TaskEnvelope, WebhookCall
from settings import Settings

MAX_REPORTED_PROBLEMS = 50


@dataclass(frozen=True)
class Plan:
    task_name: str
    envelope: TaskEnvelope
    argsrepr: str
    dedupe_key: str | None
    dedupe_ttl: int
    message_count: int | None = None
    wait_seconds: float = 0.0  # the ingress answers with the result when it is ready this soon


def _dedupe_key(envelope: TaskEnvelope, suffix: str) -> str:
    return f"gw:dedupe:{envelope.client}:{envelope.connected_integration_id}:{suffix}"


def plan_call(spec: IntegrationSpec, envelope: TaskEnvelope, settings: Settings) -> Plan:
    """Validate `data` for the action and decide task, idempotency key and Flower-safe args."""
    head = f"{envelope.client} {envelope.connected_integration_id} {envelope.action}"
    event_key = _dedupe_key(envelope, f"event:{envelope.event_id}") if envelope.event_id else None
    if envelope.action == "handle_webhook":
        try:
            webhook = WebhookCall.model_validate(envelope.data)
        except ValidationError as exc:
            raise GatewayError(
                422,
                'HandleWebhook data must be {"action": "<WebhookName>", "data": {...}}',
                details=[e["msg"] for e in exc.errors()][:10],
            ) from None
        return Plan(
            names.HANDLE_WEBHOOK,
            envelope.model_copy(update={"data": webhook.model_dump()}),
            f"{head} {webhook.action} event={envelope.event_id or '-'}",
            event_key,
            settings.webhook_dedup_ttl_seconds,
        )
    if envelope.action == "send_messages":
        return _plan_send_messages(spec, envelope, settings, head, event_key)
    if envelope.action in LIFECYCLE_ACTIONS:
        # Settings are re-read from REGOS by the worker: whatever REGOS put in `data` may hold
        # secrets, so it never enters the queue.
        return Plan(
            names.RUN_ACTION,
            envelope.model_copy(update={"data": None}),
            f"{head} event={envelope.event_id or '-'}",
            event_key,
            settings.webhook_dedup_ttl_seconds,
            wait_seconds=settings.lifecycle_wait_seconds,
        )
    custom = spec.custom.get(envelope.action)
    if custom is not None:
        # Custom actions carry ids and dates (EDO: firm_id, document ids), never settings.
        return Plan(
            names.RUN_ACTION,
            envelope,
            f"{head} {_describe_data(envelope.data)} event={envelope.event_id or '-'}",
            event_key,
            settings.webhook_dedup_ttl_seconds,
            wait_seconds=custom.wait_seconds,
        )
    raise GatewayError(400, f"action {envelope.action} is not supported by {envelope.client}")


def _describe_data(data: Any) -> str:
    """A short, Flower-safe summary of a custom action's `data`: its keys and list sizes."""
    if isinstance(data, dict):
        parts = [f"{k}[{len(v)}]" if isinstance(v, list) else f"{k}={str(v)[:40]}" for k, v in list(data.items())[:8]]
        return " ".join(parts)
    return f"[{len(data)}]" if isinstance(data, list) else "-"


def _plan_send_messages(
    spec: IntegrationSpec, envelope: TaskEnvelope, settings: Settings, head: str, event_key: str | None
) -> Plan:
    assert spec.messages is not None
    try:
        valid, invalid = spec.messages(envelope.data)
    except ValueError as exc:
        raise GatewayError(422, str(exc)) from None
    if not valid:
        problems = [f"item {i.index}: {i.reason}" for i in invalid[:MAX_REPORTED_PROBLEMS]]
        raise GatewayError(422, "no valid message to send: " + "; ".join(problems[:5]), details=problems)
    data = {"messages": [m.model_dump(exclude_none=True) for m in valid], "invalid": [i.model_dump() for i in invalid]}
    if event_key:
        dedupe_key, ttl = event_key, settings.webhook_dedup_ttl_seconds
    elif settings.send_messages_dedup_window_seconds:
        digest = hashlib.sha256(orjson.dumps(envelope.data, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
        dedupe_key, ttl = _dedupe_key(envelope, f"content:{digest}"), settings.send_messages_dedup_window_seconds
    else:
        dedupe_key, ttl = None, 0
    return Plan(
        names.SEND_MESSAGES,
        envelope.model_copy(update={"data": data}),
        f"{head} {len(valid)} messages ({len(invalid)} invalid) event={envelope.event_id or '-'}",
        dedupe_key,
        ttl,
        message_count=len(valid),
    )


async def enqueue(publisher: Publisher, plan: Plan, settings: Settings, *, task_id: str | None = None) -> Published:
    """Publish within ENQUEUE_TIMEOUT_SECONDS, or answer 503 so REGOS re-delivers."""
    envelope = plan.envelope
    record: dict[str, Any] = {
        "client": envelope.client,
        "connected_integration_id": envelope.connected_integration_id,
        "action": envelope.action,
        "event_id": envelope.event_id,
        "request_id": envelope.request_id,
        "argsrepr": plan.argsrepr,
    }
    if plan.message_count is not None:
        record["message_count"] = plan.message_count
    try:
        async with asyncio.timeout(settings.enqueue_timeout_seconds):  # no extra task, unlike wait_for
            return await publisher.publish(
                plan.task_name,
                {"envelope": envelope.model_dump()},
                argsrepr=plan.argsrepr,
                record=record,
                dedupe_key=plan.dedupe_key,
                dedupe_ttl=plan.dedupe_ttl,
                task_id=task_id,
                request_id=envelope.request_id,
            )
    except (RedisError, OSError, TimeoutError) as exc:
        raise GatewayError(
            503, f"could not queue the call ({type(exc).__name__}); nothing was accepted, deliver it again"
        ) from None


FINAL_STATES = {"SUCCESS", "FAILURE", "REVOKED"}


async def wait_for_result(redis: Redis, task_id: str, seconds: float) -> dict[str, Any] | None:
    """Poll the result backend key without blocking the event loop; None if not final in time."""
    deadline = time.monotonic() + seconds
    delay = 0.01
    while True:
        try:
            raw = await redis.get(RESULT_KEY_PREFIX + task_id)
        except RedisError:
            return None
        if raw:
            meta = orjson.loads(raw)
            if meta.get("status") in FINAL_STATES:
                return meta
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.1)


def lifecycle_answer(meta: dict[str, Any]) -> dict[str, Any]:
    """The worker's outcome as REGOS expects it (logical failures: ok false, HTTP 200)."""
    if meta["status"] == "SUCCESS" and isinstance(meta.get("result"), dict) and "ok" in meta["result"]:
        return meta["result"]
    if meta["status"] == "SUCCESS":
        return {"ok": True, "result": meta.get("result")}
    error = meta.get("result") or {}
    message = error.get("exc_message") or "the action failed"
    if isinstance(message, list | tuple):  # Celery stores the exception's args
        message = "; ".join(map(str, message))
    return {"ok": False, "result": {"error": 500, "description": message}}
