"""One provider call for the EDO clients, classified into the errors the task layer understands.

Transport failures and retryable answers (`kit.http_outcome`: 408, 429, 5xx) are `TransientError`
(retried with backoff by the task layer); other 4xx are `ProviderRefused` (`status` kept for
callers that react to 401). Bodies are never logged; provider answers are truncated and redacted
of the secrets the caller names.
"""

from __future__ import annotations

from typing import Any

import httpx2

from integrations.errors import PermanentError, TransientError
from integrations.sms import http as provider_http
from kit.http_outcome import NotSent, OutcomeUnknown, ProviderHTTPError


class ProviderRefused(PermanentError):
    def __init__(self, message: str, status: int, text: str) -> None:
        super().__init__(message)
        self.status = status
        self.text = text


async def call(http: httpx2.AsyncClient, what: str, method: str, url: str, **kwargs: Any) -> Any:
    """The JSON answer of one 2xx call (None when it is not JSON); `kwargs` as for
    `integrations.sms.http.call` (`timeout_seconds`, `secrets`, httpx2 request arguments)."""
    try:
        response = await provider_http.call(http, what, method, url, **kwargs)
    except ProviderHTTPError as exc:
        if exc.retryable:
            raise TransientError(str(exc), retry_after=exc.retry_after) from None
        raise ProviderRefused(str(exc), exc.status, exc.text) from None
    except (NotSent, OutcomeUnknown) as exc:  # EDO calls are safe to repeat (idempotent imports)
        raise TransientError(str(exc)) from None
    try:
        return response.json()
    except ValueError:
        return None
