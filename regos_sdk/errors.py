"""Errors the SDK raises. Workers decide retry-vs-fail from `retryable` and `retry_after` alone.

Every message names the REGOS method, the connected integration and what REGOS said, because
messages end up in task results and dead letters read by operators. No message ever contains
the bearer token, the client secret or a settings value.
"""

from __future__ import annotations


class RegosError(Exception):
    """Base of every SDK error. `retryable`: can the same call succeed later?"""

    retryable: bool = False

    def __init__(
        self,
        detail: str,
        *,
        method: str,
        connected_integration_id: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{method} for {connected_integration_id}: {detail}")
        self.detail = detail
        self.method = method
        self.connected_integration_id = connected_integration_id
        self.status = status
        self.retry_after = retry_after


class RegosAPIError(RegosError):
    """REGOS refused the call (`ok: false`, or a 4xx other than 401/429). Retrying cannot help."""

    def __init__(
        self,
        code: int | None,
        description: str,
        *,
        method: str,
        connected_integration_id: str,
        status: int | None = None,
    ) -> None:
        label = f"REGOS error {code}" if code is not None else f"REGOS HTTP {status}"
        super().__init__(
            f"{label}: {description}", method=method, connected_integration_id=connected_integration_id, status=status
        )
        self.code = code
        self.description = description


class RegosServerError(RegosAPIError):
    """REGOS answered 5xx (or garbage) even after the SDK's own retries: reschedule the work."""

    retryable = True


class RegosAuthError(RegosError):
    """The token endpoint refused our credentials, or REGOS answered 401 to a fresh token."""


class RegosRateLimited(RegosError):
    """Too many calls for this connected integration: try again after `retry_after` seconds."""

    retryable = True
    retry_after: float

    def __init__(self, retry_after: float, *, method: str, connected_integration_id: str, detail: str = "") -> None:
        super().__init__(
            detail or f"rate limited, retry after {retry_after:.1f}s",
            method=method,
            connected_integration_id=connected_integration_id,
            status=429,
            retry_after=retry_after,
        )


class RegosTransportError(RegosError):
    """Connect/read failure or timeout talking to REGOS (or to its token endpoint)."""

    retryable = True
