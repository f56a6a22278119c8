"""One long-lived asyncio event loop per worker process.

Integration methods are `async`; Celery's thread pool runs many tasks at once and each
task thread hands its coroutine to this loop (`run`). Keeping one loop per process means
the shared httpx2 and Redis clients, and their connection pools, live as long as the process
instead of being rebuilt for every task (which `asyncio.run` per task would force).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx2
from redis.asyncio import Redis

from kit import redis as redis_clients
from regos_sdk.client import shared_http
from settings import Settings, get_settings
from workers.metrics.outbound import measured

T = TypeVar("T")


class TaskTimedOut(Exception):
    """The task's work ran past its time limit and was cancelled; trying again may help."""

    retryable = True
    retry_after = None


@dataclass
class Resources:
    """Clients shared by every task of this process (created on the loop that uses them)."""

    settings: Settings
    redis: Redis
    http: httpx2.AsyncClient


class _Runtime:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0
        self._resources: Resources | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():  # a forked child needs its own
                self._loop = asyncio.new_event_loop()
                self._pid = os.getpid()
                self._resources = None
                threading.Thread(target=self._loop.run_forever, name="gateway-loop", daemon=True).start()
            return self._loop

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coro` on the process loop from a task thread and wait for its result.

        Celery's thread pool enforces no time limits, so this is where a task's limit holds:
        past `timeout` the coroutine is cancelled and `TaskTimedOut` (retryable) is raised.
        """
        future = asyncio.run_coroutine_threadsafe(coro, self.loop())
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TaskTimedOut(f"gave up after {timeout:.0f} s (TASK_TIME_LIMIT_SECONDS)") from None

    def resources(self) -> Resources:
        """Must be called on the loop (inside a coroutine run by `run`)."""
        if self._resources is None:
            settings = get_settings()
            self._resources = Resources(
                settings=settings,
                redis=redis_clients.client(settings.redis_url, timeout=5),
                http=httpx2.AsyncClient(
                    timeout=settings.provider_timeout_seconds,
                    transport=measured(
                        httpx2.AsyncHTTPTransport(
                            limits=httpx2.Limits(max_connections=200, max_keepalive_connections=50)
                        )
                    ),
                ),
            )
            # Every task's coroutine builds these resources before it calls REGOS: the SDK's client
            # of this loop is created here, measured like the providers'.
            shared_http(wrap=measured)
        return self._resources

    async def _aclose(self) -> None:
        from regos_sdk import aclose_shared

        if self._resources is not None:
            await self._resources.http.aclose()
            await self._resources.redis.aclose()
            self._resources = None
        await aclose_shared()

    def shutdown(self) -> None:
        """Close clients and stop the loop (worker shutdown)."""
        with self._lock:
            loop = self._loop if self._pid == os.getpid() else None
        if loop is None or not loop.is_running():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._aclose(), loop).result(5)
        finally:
            loop.call_soon_threadsafe(loop.stop)


runtime = _Runtime()
