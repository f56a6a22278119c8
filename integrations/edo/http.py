"""One provider call for the EDO clients, classified into the errors the task layer understands.

Transport failures, 5xx and 429 are `TransientError` (retried with backoff by the task layer);
other 4xx are `ProviderRefused` (`status` kept for callers that react to 401). Bodies are never
logged; provider answers are truncated and scrubbed of the secrets the caller names.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx2

from integrations.errors import PermanentError, TransientError
from integrations.sms import http as provider_http


class ProviderRefused(PermanentError):
    def __init__(self, message: str, status: int, text: str) -> None:
        super().__init__(message)
        self.status = status
        self.text = text


async def call(
    http: httpx2.AsyncClient,
    what: str,
    method: str,
    url: str,
    *,
    timeout_seconds: float,
    secrets: Iterable[str | None] = (),
    **kwargs: Any,
) -> Any:
    """The JSON answer of one 2xx call (None when it is not JSON)."""
    try:
        response = await provider_http.call(
            http, what, method, url, timeout_seconds=timeout_seconds, secrets=secrets, **kwargs
        )
    except (provider_http.NotSent, provider_http.OutcomeUnknown) as exc:
        raise TransientError(str(exc)) from None
    except provider_http.ProviderHTTPError as exc:
        if exc.status >= 500 or exc.status == 429:
            raise TransientError(str(exc), retry_after=exc.retry_after) from None
        raise ProviderRefused(str(exc), exc.status, exc.text) from None
    try:
        return response.json()
    except ValueError:
        return None
