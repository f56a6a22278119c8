"""Retry or fail: one decision for every task.

Retryable errors (the SDK's `RegosError.retryable`, `integrations.errors.TransientError`) are
rescheduled with capped exponential backoff and equal jitter (a random wait between half the
ceiling and the ceiling: retries of many tasks spread out, yet none comes back sooner than half
its backoff, which full jitter would allow), honouring a wait the other side imposed
(`retry_after`). The countdown never exceeds `Settings.max_retry_countdown_seconds`,
which stays below the broker's visibility timeout: a message held unacked past it would be
handed to a second worker. Everything else fails at once.
"""

from __future__ import annotations

import random

from settings import Settings


def is_retryable(exc: BaseException) -> bool:
    return bool(getattr(exc, "retryable", False))


def retry_after_of(exc: BaseException) -> float | None:
    value = getattr(exc, "retry_after", None)
    return float(value) if value is not None else None


def countdown(retries: int, retry_after: float | None, settings: Settings) -> float:
    """Seconds before attempt `retries + 1`."""
    ceiling = min(settings.retry_backoff_base_seconds * 2**retries, settings.max_retry_countdown_seconds)
    wait = random.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        wait = max(wait, retry_after)
    return min(wait, settings.max_retry_countdown_seconds)


def describe(exc: BaseException) -> str:
    """`TypeName: message` — what operators read in results, dead letters and logs."""
    text = str(exc) or repr(exc)
    return f"{type(exc).__name__}: {text}"[:2000]
