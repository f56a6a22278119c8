"""Operator observability: `GET /metrics` (Prometheus text) and `GET /admin/queues`.

Both need `Authorization: Bearer <OPERATOR_TOKEN>` (404 when no token is configured, like
every operator endpoint): the API faces the internet (REGOS calls it), and queue depths and
per-route traffic are nobody else's business. Prometheus sends the token with
`authorization: {type: Bearer, credentials_file: ...}` in its scrape config.

Consumers are counted from the workers' heartbeat (jobs/heartbeat.py says why and how; each
worker stamps the live list of `task_consumer.queues`, so `-Q` and `add_consumer` are honoured).
All of it is read in one round trip.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from redis.exceptions import RedisError

from api.deps import OperatorDep, RedisDep, SettingsDep
from api.errors import read_redis
from api.metrics import exposition, install_metrics
from jobs.heartbeat import CONSUMERS_KEY_PREFIX, STALE_AFTER_SECONDS, WORKER_KEY_PREFIX
from jobs.names import QUEUES

router = APIRouter(tags=["ops"])

# kombu's Redis transport keeps priorities 3, 6 and 9 of a queue in lists of their own.
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")
UNACKED_KEY = "unacked"  # kombu: delivered to a worker, not yet acknowledged (running or waiting a countdown)
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def install(app: FastAPI) -> None:
    """The one hook in the app factory: these routes plus the request-metrics middleware."""
    app.include_router(router)
    install_metrics(app)


async def queue_report(redis: Any) -> dict[str, Any]:
    """Depth and live consumers of every Celery queue, and the workers behind them."""
    now = time.time()
    pipe = redis.pipeline(transaction=False)
    for queue in QUEUES:
        for suffix in _PRIORITY_SUFFIXES:
            pipe.llen(queue + suffix)
        pipe.zrangebyscore(CONSUMERS_KEY_PREFIX + queue, now - STALE_AFTER_SECONDS, "+inf")
    pipe.hlen(UNACKED_KEY)
    replies = await pipe.execute()
    queues: dict[str, dict[str, Any]] = {}
    names: set[str] = set()
    step = len(_PRIORITY_SUFFIXES) + 1
    for i, queue in enumerate(QUEUES):
        chunk = replies[i * step : (i + 1) * step]
        consumers = sorted(n.decode() if isinstance(n, bytes) else n for n in chunk[-1])
        names.update(consumers)
        queues[queue] = {"depth": int(sum(chunk[:-1])), "consumers": len(consumers), "workers": consumers}
    problems = [
        f"queue {q} has {v['depth']} waiting task(s) and no live consumer: start a worker for it "
        f"(celery -A workers.app worker -Q {q})"
        for q, v in queues.items()
        if v["depth"] > 0 and v["consumers"] == 0
    ]
    workers = []
    if names:
        ordered = sorted(names)
        for name, raw in zip(ordered, await redis.mget([WORKER_KEY_PREFIX + n for n in ordered]), strict=True):
            info = orjson.loads(raw) if raw else {"name": name}
            if "beat_at" in info:
                info["seen_seconds_ago"] = round(max(0.0, now - info.pop("beat_at")), 1)
            workers.append(info)
    return {
        "ok": not problems,
        "queues": queues,
        "in_flight": int(replies[-1]),
        "workers": workers,
        "problems": problems,
    }


class _QueueCollector:
    """Gauges of one scrape. Metric families, not `Gauge` objects: those would write files
    in prometheus_client's multiprocess mode, and a failed read must leave no stale values."""

    def __init__(self, report: dict[str, Any] | None) -> None:
        self.report = report

    def collect(self) -> Iterator[GaugeMetricFamily]:
        report = self.report
        yield GaugeMetricFamily(
            "gateway_queue_report_up", "1 if queue depths could be read from Redis", 1 if report else 0
        )
        if not report:
            return
        depth = GaugeMetricFamily("gateway_queue_depth", "Tasks waiting in a Celery queue", labels=["queue"])
        consumers = GaugeMetricFamily(
            "gateway_queue_consumers", "Worker nodes with a live heartbeat consuming a queue", labels=["queue"]
        )
        for queue, values in report["queues"].items():
            depth.add_metric([queue], values["depth"])
            consumers.add_metric([queue], values["consumers"])
        yield depth
        yield consumers
        yield GaugeMetricFamily(
            "gateway_queue_in_flight", "Tasks delivered to workers and not yet acknowledged", report["in_flight"]
        )


def _queue_gauges(report: dict[str, Any] | None) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_QueueCollector(report))
    return generate_latest(registry)


@router.get(
    "/metrics",
    summary="Prometheus metrics of this API process, queue depths and live consumers (operator token)",
    response_class=Response,
    responses={200: {"content": {PROMETHEUS_TEXT: {}}}},
)
async def metrics(_: OperatorDep, redis: RedisDep, settings: SettingsDep) -> Response:
    try:
        report: dict[str, Any] | None = await asyncio.wait_for(queue_report(redis), settings.enqueue_timeout_seconds)
    except (RedisError, OSError, TimeoutError):
        report = None
    return Response(exposition() + _queue_gauges(report), media_type=PROMETHEUS_TEXT)


@router.get(
    "/admin/queues",
    summary="Depth and live consumers of every queue; 503 when a queue has work and no consumer",
    responses={503: {"description": "A queue has waiting work and no live consumer, or Redis is unreachable"}},
)
async def admin_queues(_: OperatorDep, redis: RedisDep, settings: SettingsDep) -> JSONResponse:
    report = await read_redis(queue_report(redis), settings.enqueue_timeout_seconds)
    return JSONResponse(report, status_code=200 if report["ok"] else 503)
