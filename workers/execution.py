"""Run one integration call inside a Celery task: the glue between tasks and integrations.

A task (workers/tasks.py) is like a web view: it names the queue, the method and the retry
policy; this module builds the integration for the envelope's connected integration, checks
the tenant is real, runs the coroutine on the process loop, and turns failures into a retry
(transient) or a recorded, permanent failure (dead letter).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from celery import Task
from pydantic import BaseModel
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from integrations import registry
from integrations.base import IntegrationBase, IntegrationContext
from integrations.errors import PermanentError
from logconfig import bind
from schemas.envelope import TaskEnvelope
from settings import get_settings
from workers import dead_letters
from workers.retry import countdown, describe, is_retryable, retry_after_of
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


class TaskFailed(Exception):
    """A permanent failure: the message says which call failed and why; not retried."""


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


# Our own infrastructure blinking (a Redis restart or failover: "Connection closed by server" on a
# pooled connection, a timeout) says nothing about the work: retry it. redis-py's pools reconnect by
# themselves on the next command. Never a dead letter for acknowledged work.
INFRASTRUCTURE_ERRORS = (RedisConnectionError, RedisTimeoutError)


def is_transient(exc: BaseException) -> bool:
    """May the same task succeed later? Retryable integration/SDK errors and infrastructure blips."""
    return is_retryable(exc) or isinstance(exc, INFRASTRUCTURE_ERRORS)


def fail_or_retry(task: Task, exc: BaseException, *, kwargs: dict[str, Any]) -> BaseException:
    """Return the exception the task must raise: Celery's Retry, or TaskFailed (dead-lettered)."""
    settings = get_settings()
    retries = task.request.retries
    if not getattr(exc, "counts_as_attempt", True):  # a bounded wait, not a failure: no retry is used up
        wait = countdown(0, retry_after_of(exc), settings)
        log.info("waiting %.1fs: %s", wait, describe(exc))
        return task.retry(exc=exc, countdown=wait, max_retries=None, throw=False)
    if is_transient(exc) and retries < settings.task_max_retries:
        wait = countdown(retries, retry_after_of(exc), settings)
        log.warning("retrying in %.1fs (attempt %d): %s", wait, retries + 1, describe(exc))
        return task.retry(exc=exc, countdown=wait, max_retries=settings.task_max_retries, throw=False)
    reason = describe(exc)
    if is_transient(exc):
        reason = f"gave up after {retries + 1} attempts: {reason}"
    log.error("task failed: %s", reason)
    runtime.run(
        _dead_letter(
            task_name=task.name, task_id=task.request.id or "", kwargs=kwargs, error=reason, attempts=retries + 1
        )
    )
    return TaskFailed(reason)


async def _dead_letter(**letter: Any) -> None:
    await dead_letters.record(runtime.resources().redis, **letter)


def bind_task(envelope: TaskEnvelope, task: Task) -> Any:
    """Log context of one task run: every line says which call, integration and tenant."""
    return bind(
        request_id=envelope.request_id,
        task_id=task.request.id,
        client=envelope.client,
        connected_integration_id=envelope.connected_integration_id,
        action=envelope.action,
    )


def execute(task: Task, envelope_data: dict[str, Any], invoke: Invoke) -> Any:
    """Run `invoke(integration, envelope)` for this task and return a JSON-able result."""
    envelope = TaskEnvelope.model_validate(envelope_data)
    with bind_task(envelope, task):
        started = time.monotonic()
        # `task.request` is thread-local: read it here, not on the event loop's thread.
        task_id = task.request.id or ""

        async def run() -> Any:
            integration = await build_integration(envelope, task_id)
            return jsonable(await invoke(integration, envelope))

        try:
            result = runtime.run(run(), timeout=get_settings().task_time_limit_seconds)
        except Exception as exc:
            raise fail_or_retry(task, exc, kwargs={"envelope": envelope_data}) from None
        log.info("task done in %.0f ms", (time.monotonic() - started) * 1000)
        return result
