"""The worker's `/metrics` endpoint: `prometheus_client.start_http_server` on `WORKER_METRICS_PORT`.

0, the default, turns it off. One worker node is one process whose pool threads share the
collectors, so a plain per-process endpoint is exact, while prometheus_client's multiprocess mode
(made for forked pools) would add a files directory to manage and lose live gauges for nothing.
When two workers share a host (`make run` starts `interactive` and `messages`), the second finds
the port taken and binds the next free one (up to +15); each worker logs its port and publishes
it in its heartbeat (workers/heartbeat.py; `GET /admin/queues` → `workers[].metrics_port`).
Started at `worker_init`, never on mere import: tests and tools that import the tasks bind nothing.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from celery.signals import worker_init
from prometheus_client import start_http_server

from settings import get_settings

log = logging.getLogger("workers.metrics")

PORT_ATTEMPTS = 16

_bound: dict[str, int | None] = {"port": None}


def bound_port() -> int | None:
    """The port this process serves /metrics on, None when it serves none."""
    return _bound["port"]


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
    settings = get_settings()
    if settings.worker_metrics_port:
        _bound["port"] = start_endpoint(settings.worker_metrics_port, settings.worker_metrics_address)
        if _bound["port"]:
            log.info("worker metrics on http://%s:%d/metrics", socket.gethostname(), _bound["port"])
