"""What became of one outbound call: the one vocabulary every provider client speaks.

A call either succeeds (the caller gets the answer) or ends in exactly one of:

- `NotSent`: the request never left (connect error or timeout, pool timeout, bad URL or proxy):
  nothing happened on the other side, so any call may be tried again;
- `OutcomeUnknown`: the request left but no usable answer came (read timeout, dropped
  connection): the other side may have acted, so only an idempotent call may be repeated as is;
- `Refused`: the other side answered and did not act. `retryable` says whether the same call
  can succeed later (HTTP 408, 429, 5xx; an SMTP 4xx), `retry_after` the wait it asked for.

HTTP callers classify transport errors with `transport_failure()` and answers with
`ProviderHTTPError`; the SMTP client maps its own exceptions onto the same classes.
"""

from __future__ import annotations

import email.utils
import time

import httpx2

# Raised before any byte of the request could reach the other side.
NOT_SENT_ERRORS: tuple[type[httpx2.HTTPError], ...] = (
    httpx2.ConnectError,
    httpx2.ConnectTimeout,
    httpx2.PoolTimeout,
    httpx2.UnsupportedProtocol,
    httpx2.ProxyError,
)
# HTTP statuses after which the same request may succeed later (RFC 9110 §15.5.9, §15.6; RFC 6585 §4).
RETRYABLE_STATUS_MIN = 500
RETRYABLE_STATUSES = frozenset({408, 429})


class CallFailure(Exception):
    """Base of the vocabulary. `what` names the call (`eskiz send-batch`); `str()` is safe for
    logs and results: it never holds a request body or a credential."""

    retryable: bool = False

    def __init__(self, what: str, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"{what}: {detail}" if what else detail)
        self.what = what
        self.detail = detail
        self.retry_after = retry_after


class NotSent(CallFailure):
    retryable = True


class OutcomeUnknown(CallFailure):
    """The other side may have acted: repeat only an idempotent call (or resolve it first)."""


class Refused(CallFailure):
    """The other side answered and did not act; `retryable` when it said "later"."""

    def __init__(self, what: str, detail: str, *, retryable: bool = False, retry_after: float | None = None) -> None:
        super().__init__(what, detail, retry_after=retry_after)
        self.retryable = retryable


class ProviderHTTPError(Refused):
    """A non-2xx answer: `status` and the provider's own words (`text`, already redacted)."""

    def __init__(self, what: str, status: int, text: str, retry_after: float | None = None) -> None:
        super().__init__(what, f"HTTP {status}: {text}", retryable=status_is_retryable(status), retry_after=retry_after)
        self.status = status
        self.text = text


def status_is_retryable(status: int) -> bool:
    return status >= RETRYABLE_STATUS_MIN or status in RETRYABLE_STATUSES


def transport_failure(what: str, exc: httpx2.HTTPError) -> NotSent | OutcomeUnknown:
    """The vocabulary's name for an httpx2 error raised instead of an answer."""
    if isinstance(exc, NOT_SENT_ERRORS):
        return NotSent(what, f"{type(exc).__name__} (request not sent)")
    # ReadTimeout, WriteTimeout, ReadError, RemoteProtocolError, ...: bytes may have reached the
    # other side, which may have acted.
    return OutcomeUnknown(what, f"{type(exc).__name__} after the request was sent")


def parse_retry_after(value: str | None, default: float | None = None) -> float | None:
    """`Retry-After` as seconds (RFC 9110 §10.2.3: delta-seconds or an HTTP date, never negative);
    absent or unparsable → `default`."""
    if not value:
        return default
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if when is None:
        return default
    return max(when.timestamp() - time.time(), 0.0)
