"""Worker metrics and the consumer heartbeat; loaded by `workers.app` in every worker process.

Metrics (docs/operating.md lists which to alert on):

- `gateway_worker_tasks_total{task,outcome}`: finished task runs; outcome `success`, `failure`
  (permanent: dead-lettered), `retry` (rescheduled), `revoked`, `rejected`.
- `gateway_worker_task_duration_seconds{task}`: run time of one attempt (histogram).
- `gateway_worker_task_retries_total{task}`: retries scheduled.
- `gateway_worker_tasks_running{task}`: attempts running now.
- `gateway_worker_outbound_requests_total{target,outcome}` and
  `gateway_worker_outbound_request_duration_seconds{target}`: every HTTP call the worker makes
  to REGOS (`regos`, `regos_oauth`) and the providers (`eskiz`, `getsms`, `telegram`; else
  `other`); outcome is `2xx`, `3xx`, `4xx`, `429`, `5xx`, `timeout` or `error` (no answer).
- `gateway_worker_messages_total{provider,outcome}`: SendMessages outcomes per integration key
  (`eskiz_sms`, `getsms`, ...): `accepted`, `failed`, `unknown`, and `reconciled` / `resent`
  (earlier unknown outcomes settled by asking the provider / by sending again; also `accepted`).

Exposure: one small HTTP endpoint per worker process, `prometheus_client.start_http_server`
on `WORKER_METRICS_PORT` (0, the default, turns it off). The gateway runs Celery's *thread*
pool: one worker node is one process whose threads share these collectors, so a plain
per-process endpoint is exact, while prometheus_client's multiprocess mode (made for forked
pools) would add a files directory to manage and lose live gauges for nothing. When two
workers share a host (`make run` starts `interactive` and `messages`), the second finds the
port taken and binds the next free one (up to +15); each worker logs its port and publishes it
in its heartbeat (`GET /admin/queues` → `workers[].metrics_port`).

The consumer heartbeat: see api/routes/ops.py for why and how consumers are counted.

Outbound calls are measured by wrapping `httpx2.AsyncClient.send` when a worker starts
(`worker_init`; never on mere import, so tests and tools that import the tasks are untouched):
both the SDK's shared REGOS client and the providers' client go through it, and it sees
timeouts and connection errors, which httpx2's response hooks do not.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import httpx2
import orjson
import redis
from celery import bootsteps
from celery.signals import (
    task_postrun,
    task_prerun,
    task_rejected,
    task_retry,
    task_revoked,
    worker_init,
    worker_ready,
    worker_shutdown,
)
from prometheus_client import Counter, Gauge, Histogram, start_http_server

from settings import get_settings

log = logging.getLogger("workers.metrics")

# Keep in step with api/routes/ops.py (the ingress may not import this module: it loads Celery).
CONSUMERS_KEY_PREFIX = "gw:consumers:"
WORKER_KEY_PREFIX = "gw:worker:"
HEARTBEAT_SECONDS = 5.0
STALE_AFTER_SECONDS = 15.0
KEY_TTL_SECONDS = 60
PORT_ATTEMPTS = 16

TASK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 50.0)
CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 15.0)

TASKS = Counter("gateway_worker_tasks", "Finished task attempts by task name and outcome", ["task", "outcome"])
TASK_DURATION = Histogram(
    "gateway_worker_task_duration_seconds", "Run time of one task attempt", ["task"], buckets=TASK_BUCKETS
)
RETRIES = Counter("gateway_worker_task_retries", "Task retries scheduled", ["task"])
RUNNING = Gauge("gateway_worker_tasks_running", "Task attempts running now", ["task"])
CALLS = Counter(
    "gateway_worker_outbound_requests",
    "HTTP calls to REGOS and the providers by target and outcome",
    ["target", "outcome"],
)
MESSAGES = Counter(
    "gateway_worker_messages",
    "SendMessages outcomes per provider (integration key): accepted, failed, unknown; reconciled and resent "
    "count earlier unknown outcomes settled by asking the provider / by sending again (also in accepted)",
    ["provider", "outcome"],
)
CALL_DURATION = Histogram(
    "gateway_worker_outbound_request_duration_seconds",
    "Latency of HTTP calls to REGOS and the providers",
    ["target"],
    buckets=CALL_BUCKETS,
)

_started: dict[str, float] = {}  # task id -> perf_counter at prerun (thread pool: GIL-atomic dict ops)
_state: dict[str, Any] = {"metrics_port": None, "heartbeat": None}


def count_messages(provider: str, counts: dict[str, int]) -> None:
    for outcome, n in counts.items():
        if n:
            MESSAGES.labels(provider, outcome).inc(n)


# --- task signals -----------------------------------------------------------------------------


@task_prerun.connect
def _on_prerun(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if task_id:
        _started[task_id] = time.perf_counter()
    RUNNING.labels(getattr(task, "name", "unknown")).inc()


@task_postrun.connect
def _on_postrun(task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any) -> None:
    name = getattr(task, "name", "unknown")
    RUNNING.labels(name).dec()
    started = _started.pop(task_id, None) if task_id else None
    if started is not None:
        TASK_DURATION.labels(name).observe(time.perf_counter() - started)
    TASKS.labels(name, (state or "unknown").lower()).inc()


@task_retry.connect
def _on_retry(sender: Any = None, **_: Any) -> None:
    RETRIES.labels(getattr(sender, "name", "unknown")).inc()


@task_revoked.connect
def _on_revoked(request: Any = None, **_: Any) -> None:
    TASKS.labels(getattr(request, "task_name", None) or getattr(request, "name", None) or "unknown", "revoked").inc()


@task_rejected.connect
def _on_rejected(message: Any = None, **_: Any) -> None:
    headers = getattr(message, "headers", None) or {}
    TASKS.labels(str(headers.get("task", "unknown")), "rejected").inc()


# --- outbound HTTP calls ----------------------------------------------------------------------


def _targets() -> dict[str, str]:
    settings = get_settings()
    urls = {
        "regos": settings.regos_integration_url,
        "regos_oauth": settings.regos_oauth_token_url,
        "eskiz": settings.eskiz_base_url,
        "getsms": settings.getsms_base_url or "",
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


def _outcome(status: int) -> str:
    return "429" if status == 429 else f"{status // 100}xx"


def instrument_httpx() -> None:
    """Measure every `httpx2.AsyncClient.send` of this process (idempotent)."""
    original = httpx2.AsyncClient.send
    if getattr(original, "_gateway_metrics", False):
        return
    targets = _targets()

    async def send(self: httpx2.AsyncClient, request: httpx2.Request, *args: Any, **kwargs: Any) -> httpx2.Response:
        target = target_of(request.url, targets)
        started = time.perf_counter()
        try:
            response = await original(self, request, *args, **kwargs)
        except httpx2.TimeoutException:
            CALLS.labels(target, "timeout").inc()
            raise
        except Exception:
            CALLS.labels(target, "error").inc()
            raise
        finally:
            CALL_DURATION.labels(target).observe(time.perf_counter() - started)
        CALLS.labels(target, _outcome(response.status_code)).inc()
        return response

    send._gateway_metrics = True  # type: ignore[attr-defined]
    httpx2.AsyncClient.send = send  # type: ignore[method-assign]


# --- the HTTP endpoint ------------------------------------------------------------------------


def start_endpoint(port: int, address: str = "0.0.0.0") -> int | None:
    """Serve /metrics on `port`, or the next free one; the port bound, None if none was."""
    for candidate in range(port, port + PORT_ATTEMPTS):
        try:
            start_http_server(candidate, addr=address)
        except OSError:
            continue
        return candidate
    log.error("worker metrics: ports %d-%d are all taken; no metrics endpoint", port, port + PORT_ATTEMPTS - 1)
    return None


@worker_init.connect
def _on_worker_init(**_: Any) -> None:
    instrument_httpx()
    settings = get_settings()
    if settings.worker_metrics_port:
        _state["metrics_port"] = start_endpoint(settings.worker_metrics_port, settings.worker_metrics_address)
        if _state["metrics_port"]:
            log.info("worker metrics on http://%s:%d/metrics", socket.gethostname(), _state["metrics_port"])


# --- consumer heartbeat -----------------------------------------------------------------------


class Heartbeat:
    """Stamp this worker into `gw:consumers:<queue>` for each queue it consumes, every few seconds."""

    def __init__(self, consumer: Any, client: redis.Redis) -> None:
        self.consumer = consumer
        self.client = client
        self.name: str = consumer.hostname
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="gateway-heartbeat", daemon=True)
        self._last_queues: list[str] = []

    def queues(self) -> list[str]:
        consumer = self.consumer
        blueprint = getattr(consumer, "blueprint", None)
        if blueprint is None or blueprint.state != bootsteps.RUN or consumer.task_consumer is None:
            return []  # (re)connecting to the broker or shutting down: not consuming
        return sorted(q.name for q in consumer.task_consumer.queues)

    def beat(self) -> None:
        now = time.time()
        queues = self.queues()
        info = {
            "name": self.name,
            "queues": queues,
            "pid": os.getpid(),
            "concurrency": getattr(getattr(self.consumer, "controller", None), "concurrency", None),
            "metrics_port": _state["metrics_port"],
            "beat_at": now,
        }
        pipe = self.client.pipeline(transaction=False)
        for queue in sorted(set(self._last_queues) - set(queues)):  # no longer consumed (cancel_consumer)
            pipe.zrem(CONSUMERS_KEY_PREFIX + queue, self.name)
        for queue in queues:
            key = CONSUMERS_KEY_PREFIX + queue
            pipe.zadd(key, {self.name: now})
            pipe.zremrangebyscore(key, "-inf", now - KEY_TTL_SECONDS)
            pipe.expire(key, KEY_TTL_SECONDS)
        pipe.set(WORKER_KEY_PREFIX + self.name, orjson.dumps(info), ex=KEY_TTL_SECONDS)
        pipe.execute()
        self._last_queues = queues

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.beat()
            except Exception as exc:  # Redis away: the stamp goes stale, which is the truth
                log.warning("consumer heartbeat failed: %s", exc)
            self.stop_event.wait(HEARTBEAT_SECONDS)

    def start(self) -> Heartbeat:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        try:
            pipe = self.client.pipeline(transaction=False)
            for queue in self._last_queues:
                pipe.zrem(CONSUMERS_KEY_PREFIX + queue, self.name)
            pipe.delete(WORKER_KEY_PREFIX + self.name)
            pipe.execute()
        except Exception as exc:
            log.warning("could not withdraw the consumer heartbeat: %s", exc)
        finally:
            self.client.close()


@worker_ready.connect
def _on_worker_ready(sender: Any = None, **_: Any) -> None:
    if sender is None or _state["heartbeat"] is not None:
        return
    client = redis.Redis.from_url(get_settings().redis_url, socket_timeout=2, socket_connect_timeout=2)
    _state["heartbeat"] = Heartbeat(sender, client).start()


@worker_shutdown.connect
def _on_worker_shutdown(**_: Any) -> None:
    heartbeat = _state.pop("heartbeat", None)
    _state["heartbeat"] = None
    if heartbeat is not None:
        heartbeat.stop()
