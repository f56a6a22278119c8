"""Run one integration call inside a Celery task: the glue between tasks and integrations.

A task (workers/tasks.py) is like a web view: it names the queue, the method and the retry
policy; this module builds the integration for the envelope's connected integration, checks
the tenant is real and hands the coroutine to the task's one failure path
(`GatewayTask.attempt`, workers/gateway_task.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from celery import Task
from pydantic import BaseModel

from integrations import registry
from integrations.base import IntegrationBase, IntegrationContext
from integrations.errors import PermanentError
from logconfig import bind
from schemas.envelope import TaskEnvelope
from workers.gateway_task import GatewayTask
from workers.runtime import Resources, runtime

log = logging.getLogger("workers.execution")

TENANT_PREFIX = "gw:tenant:"
# shared/docs/regos-contract.md §2 (as the production gateway did): at Disconnect the connected
# integration may already be inactive or deleted in REGOS and must still clean up (delete its
# Telegram webhook, drop tokens); UpdateSettings must reach it whatever its state.
UNCHECKED_ACTIONS = frozenset({"disconnect", "update_settings"})
# The user has just switched the integration on: a cached "inactive" must not refuse it.
FRESH_TENANT_ACTIONS = frozenset({"connect", "reconnect"})

Invoke = Callable[[IntegrationBase, TaskEnvelope], Awaitable[Any]]


class TenantNotActive(PermanentError):
    """REGOS does not know this connected integration as active: nothing may be sent for it."""


async def _tenant(res: Resources, cid: str, request_id: str, *, fresh: bool = False) -> dict[str, Any]:
    """`ConnectedIntegration/Get` for `cid`, cached briefly: {key, is_active} or {} if unknown.

    `fresh` skips the cached answer (and replaces it with REGOS's current one).
    """
    key = TENANT_PREFIX + cid
    cached = await res.redis.get(key) if res.settings.tenant_cache_seconds and not fresh else None
    if cached is not None:
        return orjson.loads(cached)
    from regos_sdk import RegosAPI

    async with RegosAPI(cid, settings=res.settings, redis=res.redis, request_id=request_id or None) as api:
        found = await api.integrations.connected_integration.get([cid])
    # A row without `is_active` is "unknown" (REGOS may omit any field): refused like inactive.
    tenant = {"key": found[0].key, "is_active": found[0].is_active} if found else {}
    if res.settings.tenant_cache_seconds:
        await res.redis.set(key, orjson.dumps(tenant), ex=res.settings.tenant_cache_seconds)
    return tenant


async def build_integration(envelope: TaskEnvelope, task_id: str) -> IntegrationBase:
    """The integration instance for this envelope, once REGOS confirmed the tenant is active."""
    res = runtime.resources()
    cid = envelope.connected_integration_id
    if envelope.action in UNCHECKED_ACTIONS and envelope.client:
        tenant: dict[str, Any] = {}
        if envelope.action == "disconnect":
            await res.redis.delete(TENANT_PREFIX + cid)  # the next calls must see it inactive
    else:
        fresh = envelope.action in FRESH_TENANT_ACTIONS
        tenant = await _tenant(res, cid, envelope.request_id, fresh=fresh)
        if not tenant.get("is_active"):
            state = (
                "unknown to REGOS"
                if not tenant
                else "not active in REGOS"
                if tenant.get("is_active") is False
                else "of unknown state (REGOS did not say whether it is active)"
            )
            raise TenantNotActive(f"connected integration {cid} is {state}; nothing sent")
    resolved = registry.resolve(envelope.client or tenant.get("key") or "")
    if resolved is None:
        raise PermanentError(f"no integration is registered for key {envelope.client or tenant.get('key')!r}")
    key, spec = resolved
    if envelope.action == "handle_external" and not envelope.client and spec.external is not None:
        raise PermanentError(f"{key} callbacks must arrive on /clients/{key}/external/... where they are verified")
    ctx = IntegrationContext(
        client=key,
        connected_integration_id=envelope.connected_integration_id,
        settings=res.settings,
        redis=res.redis,
        http=res.http,
        request_id=envelope.request_id,
        task_id=task_id,
        event_id=envelope.event_id,
    )
    return registry.load_class(key)(ctx)


def jsonable(value: Any) -> Any:
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


def bind_task(envelope: TaskEnvelope, task: Task) -> Any:
    """Log context of one task run: every line says which call, integration and tenant."""
    return bind(
        request_id=envelope.request_id,
        task_id=task.request.id,
        client=envelope.client,
        connected_integration_id=envelope.connected_integration_id,
        action=envelope.action,
    )


def execute(task: GatewayTask, envelope_data: dict[str, Any], invoke: Invoke) -> Any:
    """Run `invoke(integration, envelope)` for this task and return a JSON-able result."""
    envelope = TaskEnvelope.model_validate(envelope_data)
    with bind_task(envelope, task):
        started = time.monotonic()
        # `task.request` is thread-local: read it here, not on the event loop's thread.
        task_id = task.request.id or ""

        async def run() -> Any:
            integration = await build_integration(envelope, task_id)
            return jsonable(await invoke(integration, envelope))

        result = task.attempt(run())
        log.info("task done in %.0f ms", (time.monotonic() - started) * 1000)
        return result
