"""HTTP plumbing shared by the SMS provider clients: one call, classified.

A provider call ends in a 2xx `httpx2.Response` (returned) or in one of the `kit.http_outcome`
failures: `NotSent`, `OutcomeUnknown` (the provider may have acted: the caller must not resend)
or `ProviderHTTPError` (the provider answered non-2xx and did not act).

A call made with `effect=True` (one that makes the provider act: a send) first awaits the
hook installed with `on_effect_request` for the running task: `integrations.sms.dispatch` uses it
to mark the ledger `started` just before the request leaves, so work cancelled earlier (e.g.
while waiting for a token) is released, not reported unknown.

Request bodies are never logged or put into errors (they hold passwords and phone numbers);
provider answers are truncated and redacted of the secrets the caller names.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpx2

from kit.http_outcome import (
    CallFailure,
    NotSent,
    OutcomeUnknown,
    ProviderHTTPError,
    parse_retry_after,
    transport_failure,
)
from kit.redaction import redacted_line

__all__ = ["NotSent", "OutcomeUnknown", "ProviderCallError", "ProviderHTTPError", "call", "on_effect_request"]

MAX_PROVIDER_TEXT = 300


_effect_hook: ContextVar[Callable[[], Awaitable[None]] | None] = ContextVar("sms_effect_hook", default=None)


@contextmanager
def on_effect_request(hook: Callable[[], Awaitable[None]]) -> Iterator[None]:
    """Within this block (this asyncio task), `hook()` runs before every `call(..., effect=True)`."""
    token = _effect_hook.set(hook)
    try:
        yield
    finally:
        _effect_hook.reset(token)


# The SMS clients' name for the base of the vocabulary.
ProviderCallError = CallFailure


def provider_text(response: httpx2.Response, secrets: Iterable[str | None] = ()) -> str:
    """The provider's own explanation: `message`/`error`/`description` of a JSON body, or the
    raw body, truncated to ~300 characters, secrets replaced by `***`."""
    text = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for field in ("message", "error", "description", "detail", "errors"):
            if body.get(field):
                value = body[field]
                text = value if isinstance(value, str) else _compact(value)
                break
        else:
            text = _compact(body)
    elif body is not None:
        text = _compact(body)
    else:
        text = response.text
    return redacted_line(text, secrets, limit=MAX_PROVIDER_TEXT) or response.reason_phrase or "no explanation"


def _compact(value: Any) -> str:
    import orjson

    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


async def call(
    http: httpx2.AsyncClient,
    what: str,
    method: str,
    url: str,
    *,
    timeout_seconds: float,
    secrets: Iterable[str | None] = (),
    effect: bool = False,
    **kwargs: Any,
) -> httpx2.Response:
    """One request, classified as described in the module docstring."""
    secrets = tuple(secrets)
    hook = _effect_hook.get() if effect else None
    if hook is not None:
        await hook()
    try:
        response = await http.request(method, url, timeout=timeout_seconds, **kwargs)
    except httpx2.TransportError as exc:
        raise transport_failure(what, exc) from None
    if response.is_success:
        return response
    raise ProviderHTTPError(
        what,
        response.status_code,
        provider_text(response, secrets),
        parse_retry_after(response.headers.get("retry-after"), default=None),
    )
