"""Prometheus metrics of the API process and the ASGI middleware that feeds them.

Exposed by `GET /metrics` (api/routes/ops.py). Metric names are a contract with dashboards
and alerts (docs/operating.md):

- `gateway_http_requests_total{route,method,status}`: requests by route *template*
  (`/clients/{client}`, never the concrete path: bounded cardinality); unmatched paths
  count under `route="<unmatched>"`.
- `gateway_http_request_duration_seconds{route}`: latency histogram, 1 ms … 3 s (REGOS
  gives up after 3 s, so everything above the last bucket is a timeout from its side).
- `gateway_enqueue_failures_total`: a call that could not be queued (a 503 answer on a
  `/clients/...` route: the ingress's only I/O there is the enqueue; REGOS re-delivers).
- `gateway_duplicates_total{kind}`: a delivery recognised as already queued (the answer carries
  `"duplicate": true`); `kind` is `regos_call` (`POST /clients/{client}`) or `callback`
  (provider callbacks under `/clients/{client}/...`).

The middleware is pure ASGI (no `BaseHTTPMiddleware`): it wraps `send`, reads the status from
`http.response.start` and, only for a 200 on an enqueueing route, looks for the duplicate flag
in the (small) JSON body. Cost per request: one dict lookup for the route, one counter and one
histogram update.

Several API processes (`uvicorn --workers N`): each keeps its own values unless
`PROMETHEUS_MULTIPROC_DIR` is set (prometheus_client's multiprocess mode), in which case
`/metrics` aggregates the files of all processes of that directory.
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "<unmatched>"
ENQUEUE_PREFIX = "/clients/"
REGOS_CALL_ROUTE = "/clients/{client}"
# 1 ms … 3 s: REGOS times out at 3 s; lifecycle calls may wait up to LIFECYCLE_WAIT_SECONDS (2.5 s).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
_DUPLICATE_MARKS = (b'"duplicate":true', b'"duplicate": true')

HTTP_REQUESTS = Counter(
    "gateway_http_requests",
    "HTTP requests answered by the API, by route template, method and status",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "gateway_http_request_duration_seconds",
    "Time from request to the end of the answer, by route template",
    ["route"],
    buckets=LATENCY_BUCKETS,
)
ENQUEUE_FAILURES = Counter(
    "gateway_enqueue_failures",
    "Calls that could not be queued (answered 503; the caller must deliver again)",
)
DUPLICATES = Counter(
    "gateway_duplicates",
    "Deliveries recognised as already queued (answered with the original task id)",
    ["kind"],
)


def record_enqueue_failure() -> None:
    ENQUEUE_FAILURES.inc()


def record_duplicate(kind: str) -> None:
    DUPLICATES.labels(kind).inc()


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class MetricsMiddleware:
    """Count and time every HTTP request by route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception escaping before the answer started ends as a 500
        watch_body = False
        duplicate = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, watch_body, duplicate
            if message["type"] == "http.response.start":
                status = message["status"]
                watch_body = status == 200 and _route_of(scope).startswith(ENQUEUE_PREFIX)
            elif watch_body and message["type"] == "http.response.body":
                body = message.get("body", b"")
                if any(mark in body for mark in _DUPLICATE_MARKS):
                    duplicate = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = _route_of(scope)
            HTTP_REQUESTS.labels(route, scope["method"], str(status)).inc()
            HTTP_DURATION.labels(route).observe(time.perf_counter() - started)
            if route.startswith(ENQUEUE_PREFIX):
                if status == 503:
                    record_enqueue_failure()
                elif duplicate:
                    record_duplicate("regos_call" if route == REGOS_CALL_ROUTE else "callback")


def install_metrics(app: Any) -> None:
    """Add the middleware to a Starlette/FastAPI app (outermost, so it times everything)."""
    app.add_middleware(MetricsMiddleware)


def exposition() -> bytes:
    """This process's metrics (or all API processes' in multiprocess mode), Prometheus text."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)
