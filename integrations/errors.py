"""Errors integrations raise; the task layer turns them into retry or failure.

`retryable` tells the worker whether trying again later can help; `retry_after` (seconds)
is a wait imposed by the other side (a 429's Retry-After, Telegram's `retry_after`).
Messages must say which provider call failed for which connected integration and what the
provider said, because they end up in task results and dead letters read by operators.
Never put a secret (password, token, settings value) into a message.
"""

from __future__ import annotations

from kit.http_outcome import CallFailure


class IntegrationError(Exception):
    retryable: bool = False

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TransientError(IntegrationError):
    """Transport errors, provider 5xx and 429: the same call may succeed later."""

    retryable = True


class ClaimedByAnotherAttempt(TransientError):
    """The work is claimed by an attempt that may still be running (younger than its lease).

    Nothing failed, so waiting for that attempt uses none of the task's retries; the lease bounds
    the wait. Raise it with `retry_after` = the lease's remaining seconds."""

    counts_as_attempt = False


class PermanentError(IntegrationError):
    """The provider refused the call (4xx, bad credentials after re-login): retrying cannot help."""


class SettingsError(PermanentError):
    """A setting the integration needs is missing or malformed in REGOS."""


def verdict(label: str, failure: CallFailure) -> IntegrationError:
    """Retry or fail after a provider call that certainly did not act (`NotSent`, `Refused`)."""
    if failure.retryable:
        return TransientError(f"{label}: {failure}", retry_after=failure.retry_after)
    return PermanentError(f"{label}: {failure}")
