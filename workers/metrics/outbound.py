"""Every HTTP call the worker makes, by target and outcome: an httpx2 transport wrapper.

`measured(transport)` is handed to the clients where they are built (workers/runtime.py: the
providers' shared client, and the REGOS SDK's through `regos_sdk.client.shared_http(wrap=...)`).
A transport sees what response hooks do not: timeouts and connection errors.

Targets: `regos`, `regos_oauth` and the providers (`eskiz`, `getsms`, `telegram`), matched by the
configured base URLs, else `other`. Outcomes: `2xx`, `3xx`, `4xx`, `429`, `5xx`, `timeout` or
`error` (no answer). A call ends when its body has been read or reading it failed: that is what
the caller waited for, and a timeout while reading the body is a timeout.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx2
from prometheus_client import Counter, Histogram

from integrations.registry import provider_base_urls
from settings import get_settings

CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 15.0)

CALLS = Counter(
    "gateway_worker_outbound_requests",
    "HTTP calls to REGOS and the providers by target and outcome",
    ["target", "outcome"],
)
CALL_DURATION = Histogram(
    "gateway_worker_outbound_request_duration_seconds",
    "Latency of HTTP calls to REGOS and the providers",
    ["target"],
    buckets=CALL_BUCKETS,
)


def targets_from_settings() -> dict[str, str]:
    """`host/path` prefix -> target name, most specific first."""
    settings = get_settings()
    urls = {
        "regos": settings.regos_integration_url,
        "regos_oauth": settings.regos_oauth_token_url,
        **provider_base_urls(settings),  # what each integration declares (`metrics_target`)
        "telegram": settings.telegram_api_base_url,
    }
    targets: dict[str, str] = {}
    for name, url in urls.items():
        parts = urlsplit(url)
        if parts.netloc:
            # Most specific first: the OAuth host may equal the integration host with another path.
            targets.setdefault(f"{parts.netloc}{parts.path.rstrip('/')}", name)
    return dict(sorted(targets.items(), key=lambda item: -len(item[0])))


def target_of(url: httpx2.URL, targets: dict[str, str]) -> str:
    here = f"{url.netloc.decode()}{url.path}"
    for prefix, name in targets.items():
        if here.startswith(prefix):
            return name
    return "other"


def status_outcome(status: int) -> str:
    return "429" if status == 429 else f"{status // 100}xx"


def failure_outcome(exc: BaseException) -> str | None:
    """`timeout`, `error`, or None for a cancellation (timed, not counted: nobody waits for it)."""
    if isinstance(exc, httpx2.TimeoutException):
        return "timeout"
    return "error" if isinstance(exc, Exception) else None


class _Call:
    """One call's measurement, recorded once: by whichever of failure or end of body comes first."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.started = time.perf_counter()
        self.done = False

    def finish(self, outcome: str | None) -> None:
        if self.done:
            return
        self.done = True
        CALL_DURATION.labels(self.target).observe(time.perf_counter() - self.started)
        if outcome is not None:
            CALLS.labels(self.target, outcome).inc()


class _MeasuredBody(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, call: _Call, outcome: str) -> None:
        self.inner = inner
        self.call = call
        self.outcome = outcome

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.inner:
                yield chunk
        except BaseException as exc:
            self.call.finish(failure_outcome(exc))
            raise

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            self.call.finish(self.outcome)


class MeasuredTransport(httpx2.AsyncBaseTransport):
    """Sends through `inner`, counting and timing each call by target and outcome."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, targets: dict[str, str]) -> None:
        self.inner = inner
        self.targets = targets

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        call = _Call(target_of(request.url, self.targets))
        try:
            response = await self.inner.handle_async_request(request)
        except BaseException as exc:
            call.finish(failure_outcome(exc))
            raise
        assert isinstance(response.stream, httpx2.AsyncByteStream)  # an async transport's body
        response.stream = _MeasuredBody(response.stream, call, status_outcome(response.status_code))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def measured(transport: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
    """`transport`, measured against the targets configured now."""
    return MeasuredTransport(transport, targets_from_settings())
