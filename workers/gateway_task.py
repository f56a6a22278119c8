"""The base class of every gateway task: its one failure path (Celery's guide: a custom `Task`).

A task body hands its work (a coroutine) to `attempt`, which runs it on the process loop within
`TASK_TIME_LIMIT_SECONDS` and decides what a failure means: a bounded wait (no retry used up), a
retry with backoff (transient: retryable integration/SDK errors and our own infrastructure
blinking), or — retries exhausted or the error is permanent — a dead letter with the task's own
kwargs (so `replay` re-runs exactly this task) and `TaskFailed`. `gave_up` lets a fan-out child
count its items as failed before the task ends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from celery import Task
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from jobs import dead_letters
from settings import get_settings
from workers.retry import countdown, describe, is_retryable, retry_after_of
from workers.runtime import runtime

log = logging.getLogger("workers.task")

T = TypeVar("T")

# Our own infrastructure blinking (a Redis restart or failover: "Connection closed by server" on a
# pooled connection, a timeout) says nothing about the work: retry it. redis-py's pools reconnect by
# themselves on the next command. Never a dead letter for acknowledged work.
INFRASTRUCTURE_ERRORS = (RedisConnectionError, RedisTimeoutError)


class TaskFailed(Exception):
    """A permanent failure: the message says which call failed and why; not retried."""


def is_transient(exc: BaseException) -> bool:
    """May the same task succeed later? Retryable integration/SDK errors and infrastructure blips."""
    return is_retryable(exc) or isinstance(exc, INFRASTRUCTURE_ERRORS)


class GatewayTask(Task):
    """Set with `@app.task(base=GatewayTask)` on every task that runs integration work."""

    def attempt(self, work: Coroutine[Any, Any, T], *, gave_up: Callable[[TaskFailed], None] | None = None) -> T:
        """Run `work` on the process loop; on failure raise Celery's Retry or TaskFailed (dead-lettered).

        `gave_up(error)` runs before TaskFailed is raised, for work that must record its end itself.
        """
        try:
            return runtime.run(work, timeout=get_settings().task_time_limit_seconds)
        except Exception as exc:
            error = self.retry_or_fail(exc)
            if gave_up is not None and isinstance(error, TaskFailed):
                gave_up(error)
            raise error from None

    def retry_or_fail(self, exc: BaseException) -> BaseException:
        """The exception to raise: Celery's Retry, or TaskFailed once the dead letter is recorded."""
        settings = get_settings()
        retries = self.request.retries
        if not getattr(exc, "counts_as_attempt", True):  # a bounded wait, not a failure: no retry is used up
            wait = countdown(0, retry_after_of(exc), settings)
            log.info("waiting %.1fs: %s", wait, describe(exc))
            return self.retry(exc=exc, countdown=wait, max_retries=None, throw=False)
        if is_transient(exc) and retries < settings.task_max_retries:
            wait = countdown(retries, retry_after_of(exc), settings)
            log.warning("retrying in %.1fs (attempt %d): %s", wait, retries + 1, describe(exc))
            return self.retry(exc=exc, countdown=wait, max_retries=settings.task_max_retries, throw=False)
        reason = describe(exc)
        if is_transient(exc):
            reason = f"gave up after {retries + 1} attempts: {reason}"
        log.error("task failed: %s", reason)
        letter = {
            "task_name": self.name,
            "task_id": self.request.id or "",
            "kwargs": dict(self.request.kwargs or {}),
            "error": reason,
            "attempts": retries + 1,
        }
        runtime.run(dead_letter(letter))
        return TaskFailed(reason)


async def dead_letter(letter: dict[str, Any]) -> None:
    await dead_letters.record(runtime.resources().redis, **letter)
