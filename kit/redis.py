"""The one way to build a long-lived Redis client, with the gateway's reconnect policy.

A pooled connection closed by a Redis restart is replaced at once: connection errors are retried
twice with a short backoff, timeouts never (a command that timed out may have run). Idle pooled
connections are health-checked before reuse.
"""

from __future__ import annotations

import redis as redis_sync
from redis.asyncio import Redis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry as SyncRetry

HEALTH_CHECK_SECONDS = 30
_RETRIES = 2


def _backoff() -> ExponentialBackoff:
    return ExponentialBackoff(cap=0.5, base=0.05)


def client(
    url: str, *, timeout: float, connect_timeout: float | None = None, max_connections: int | None = None
) -> Redis:
    """An asyncio client for `url`; `timeout` bounds every command, `connect_timeout` (default:
    `timeout`) every connect."""
    return Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=connect_timeout if connect_timeout is not None else timeout,
        health_check_interval=HEALTH_CHECK_SECONDS,
        max_connections=max_connections,
        retry=AsyncRetry(_backoff(), _RETRIES, supported_errors=(RedisConnectionError,)),
    )


def sync_client(url: str, *, timeout: float) -> redis_sync.Redis:
    """The same policy for the few synchronous users (worker heartbeat, startup checks)."""
    return redis_sync.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=HEALTH_CHECK_SECONDS,
        retry=SyncRetry(_backoff(), _RETRIES, supported_errors=(RedisConnectionError,)),
    )
