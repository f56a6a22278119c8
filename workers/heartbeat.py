"""The consumer heartbeat loop: every worker stamps the queues it consumes (keys: jobs/heartbeat.py).

Started at `worker_ready` (the consumer exists then), withdrawn at `worker_shutdown`. It runs on
its own thread with its own synchronous Redis client, so a busy pool or event loop cannot make a
live worker look dead.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import orjson
import redis
from celery import bootsteps
from celery.signals import worker_ready, worker_shutdown

from jobs.heartbeat import CONSUMERS_KEY_PREFIX, HEARTBEAT_SECONDS, KEY_TTL_SECONDS, WORKER_KEY_PREFIX
from kit import redis as redis_clients
from settings import get_settings
from workers.metrics.endpoint import bound_port

log = logging.getLogger("workers.heartbeat")

_state: dict[str, Any] = {"heartbeat": None}


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
            "metrics_port": bound_port(),
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
    client = redis_clients.sync_client(get_settings().redis_url, timeout=2)
    _state["heartbeat"] = Heartbeat(sender, client).start()


@worker_shutdown.connect
def _on_worker_shutdown(**_: Any) -> None:
    heartbeat = _state.pop("heartbeat", None)
    _state["heartbeat"] = None
    if heartbeat is not None:
        heartbeat.stop()
