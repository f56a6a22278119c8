"""Transport core: every REGOS call goes through `RegosTransport.call()`.

One call = cooldown check → rate-limit slot → bearer token → POST → envelope parsing, with a
single refresh on 401 and a small tenacity retry budget for transient failures. Services and the
facade never talk HTTP themselves.

Shared clients: one pooled `httpx2.AsyncClient` and one `redis.asyncio.Redis` per running event
loop (`shared_http()`, `shared_redis()`), closed by `aclose_shared()` at worker shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx2
import orjson
from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import RedisError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from kit import redis as redis_clients
from kit.http_outcome import NotSent, parse_retry_after, transport_failure
from kit.ratelimit import Cooldown, RedisRateLimiter, WaitTooLong
from kit.secretbox import secret_box
from regos_sdk.auth import TokenProvider
from regos_sdk.errors import (
    RegosAPIError,
    RegosAuthError,
    RegosError,
    RegosRateLimited,
    RegosServerError,
    RegosTransportError,
)
from settings import Settings

log = logging.getLogger("regos_sdk.client")

KEY_PREFIX = "gw:regos:"
ATTEMPTS = 3
DEFAULT_RETRY_AFTER = 1.0
BODY_LOG_LIMIT = 500
# Bodies of these methods carry secrets (passwords, bot tokens): never logged, even at DEBUG.
SECRET_BODY_METHODS: tuple[str, ...] = ("ConnectedIntegrationSetting/",)
# ~0.2 s, 0.4 s (+ up to 0.2 s jitter): three attempts stay within about a second of waiting.
_BACKOFF = wait_exponential_jitter(multiplier=0.2, max=2.0, jitter=0.2)


# --- shared clients, one set per event loop ------------------------------------------------


@dataclass
class _LoopClients:
    http: httpx2.AsyncClient | None = None
    redis: dict[str, Redis] = field(default_factory=dict)


_registry: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClients] = weakref.WeakKeyDictionary()


def _clients() -> _LoopClients:
    loop = asyncio.get_running_loop()
    clients = _registry.get(loop)
    if clients is None:
        clients = _registry[loop] = _LoopClients()
    return clients


def shared_http(
    wrap: Callable[[httpx2.AsyncBaseTransport], httpx2.AsyncBaseTransport] | None = None,
) -> httpx2.AsyncClient:
    """The running loop's pooled HTTP client (created on first use). Timeouts are set per request.

    `wrap`, used when the client is created, wraps its transport (the worker measures calls)."""
    clients = _clients()
    if clients.http is None or clients.http.is_closed:
        pool = httpx2.AsyncHTTPTransport(
            limits=httpx2.Limits(max_connections=256, max_keepalive_connections=64, keepalive_expiry=30.0)
        )
        clients.http = httpx2.AsyncClient(
            # No default Content-Type: it would win over the form encoding of the OAuth request
            # (regos_sdk/auth.py). Each request labels its own body.
            headers={"Accept-Encoding": "gzip, deflate"},
            transport=wrap(pool) if wrap is not None else pool,
            timeout=10.0,
        )
    return clients.http


def shared_redis(url: str) -> Redis:
    """The running loop's Redis client for `url` (created on first use)."""
    clients = _clients()
    redis = clients.redis.get(url)
    if redis is None:
        redis = clients.redis[url] = redis_clients.client(url, timeout=5.0, connect_timeout=2.0, max_connections=256)
    return redis


async def aclose_shared() -> None:
    """Close the running loop's shared HTTP and Redis clients (worker shutdown)."""
    clients = _registry.pop(asyncio.get_running_loop(), None)
    if clients is None:
        return
    if clients.http is not None:
        await clients.http.aclose()
    for redis in clients.redis.values():
        await redis.aclose()


# --- envelope ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegosResponse:
    """A successful REGOS envelope: `result` plus paging hints."""

    result: Any
    next_offset: int | None = None
    total: int | None = None


def _json_default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def encode_body(body: Any) -> bytes:
    return orjson.dumps(body if body is not None else {}, default=_json_default)


def _truncate(data: bytes) -> str:
    text = data[:BODY_LOG_LIMIT].decode("utf-8", "replace")
    return text + ("…" if len(data) > BODY_LOG_LIMIT else "")


# --- transport --------------------------------------------------------------------------------


class RegosTransport:
    """Calls REGOS for one connected integration. Built by `RegosAPI`; use the facade instead."""

    def __init__(
        self,
        connected_integration_id: str,
        *,
        settings: Settings,
        redis: Redis,
        http: httpx2.AsyncClient,
        request_id: str | None = None,
    ) -> None:
        self.cid = connected_integration_id
        self.settings = settings
        self.redis = redis
        self.http = http
        self.box = secret_box(settings.secret_key)
        self.tokens = TokenProvider(settings, redis, http, self.box)
        self.limiter = RedisRateLimiter(
            redis,
            prefix=KEY_PREFIX + "rl:",
            rate=settings.regos_rate_limit_per_second,
            burst=settings.regos_rate_limit_burst,
        )
        self.cooldown = Cooldown(redis, prefix=KEY_PREFIX + "cooldown:")
        self.base_url = f"{settings.regos_integration_url.rstrip('/')}/gateway/out/{connected_integration_id}/v1/"
        self.timeout = httpx2.Timeout(settings.regos_timeout_seconds, connect=min(5.0, settings.regos_timeout_seconds))
        self.headers = {"X-Request-Id": request_id} if request_id else {}

    async def call(self, method: str, body: Any = None, *, idempotent: bool | None = None) -> RegosResponse:
        """POST `body` to `method`, returning the parsed envelope or raising a typed `RegosError`.

        `idempotent=None` infers it from the method name (`…/Get*` reads are idempotent). For a
        non-idempotent method, timeouts and 5xx are not retried here, since REGOS may have acted.
        """
        if idempotent is None:
            idempotent = method.rsplit("/", 1)[-1].startswith("Get")
        payload = encode_body(body)
        max_inline = self.settings.regos_max_inline_wait_seconds

        def should_retry(exc: BaseException) -> bool:
            if not isinstance(exc, RegosError) or not exc.retryable:
                return False
            if isinstance(exc, RegosRateLimited):
                return exc.retry_after <= max_inline
            if idempotent:
                return True
            return isinstance(exc, RegosTransportError) and isinstance(exc.__cause__, NotSent)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            # After a 429 the next attempt sleeps the shared cooldown itself; add only jitter.
            if isinstance(exc, RegosRateLimited):
                return 0.0
            return _BACKOFF(state)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(ATTEMPTS), wait=wait, retry=retry_if_exception(should_retry), reraise=True
        )
        async for attempt in retrying:
            with attempt:
                return await self._attempt(method, payload, attempt.retry_state.attempt_number)
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def _wait_turn(self, method: str) -> None:
        """Honour the shared cooldown and the rate limit; waits too long for inline raise at once."""
        max_inline = self.settings.regos_max_inline_wait_seconds
        try:
            remaining = await self.cooldown.remaining(self.cid)
            if remaining > max_inline:
                raise RegosRateLimited(
                    remaining, method=method, connected_integration_id=self.cid, detail=_cooldown_detail(remaining)
                )
            if remaining > 0:
                await asyncio.sleep(remaining)
            await self.limiter.acquire(self.cid, max_wait=max_inline - remaining)
        except WaitTooLong as exc:
            raise RegosRateLimited(exc.wait, method=method, connected_integration_id=self.cid) from None
        except RedisError as exc:
            # Degrade: REGOS still protects itself with 429s, which we honour per process.
            log.warning("rate limiter unavailable (%s); calling %s unthrottled", type(exc).__name__, method)

    async def _attempt(self, method: str, payload: bytes, attempt: int) -> RegosResponse:
        await self._wait_turn(method)
        token = await self.tokens.get(method=method, cid=self.cid)
        resp = await self._post(method, payload, token, attempt)
        if resp.status_code == 401:
            await self.tokens.invalidate(token)
            token = await self.tokens.get(method=method, cid=self.cid)
            resp = await self._post(method, payload, token, attempt)
            if resp.status_code == 401:
                raise RegosAuthError(
                    "REGOS answered 401 to a freshly issued token",
                    method=method,
                    connected_integration_id=self.cid,
                    status=401,
                )
        return await self._parse(method, resp)

    async def _post(self, method: str, payload: bytes, token: str, attempt: int) -> httpx2.Response:
        headers = {**self.headers, "Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        started = time.perf_counter()
        try:
            resp = await self.http.post(self.base_url + method, content=payload, headers=headers, timeout=self.timeout)
        except httpx2.HTTPError as exc:
            ms = (time.perf_counter() - started) * 1000
            log.info(
                "regos %s cid=%s status=%s ms=%.1f bytes=0 attempt=%d",
                method,
                self.cid,
                type(exc).__name__,
                ms,
                attempt,
            )
            # Chained to the outcome (never to the httpx2 error, whose text could name the URL):
            # after NotSent even a non-idempotent call is retried.
            raise RegosTransportError(
                f"transport error: {type(exc).__name__}", method=method, connected_integration_id=self.cid
            ) from transport_failure(method, exc)
        ms = (time.perf_counter() - started) * 1000
        log.info(
            "regos %s cid=%s status=%d ms=%.1f bytes=%d attempt=%d",
            method,
            self.cid,
            resp.status_code,
            ms,
            len(resp.content),
            attempt,
        )
        if log.isEnabledFor(logging.DEBUG) and not method.startswith(SECRET_BODY_METHODS):
            log.debug("regos %s request=%s response=%s", method, _truncate(payload), _truncate(resp.content))
        return resp

    async def _parse(self, method: str, resp: httpx2.Response) -> RegosResponse:
        status = resp.status_code
        if status == 429:
            retry_after = parse_retry_after(resp.headers.get("Retry-After")) or DEFAULT_RETRY_AFTER
            with contextlib.suppress(RedisError):
                await self.cooldown.set(self.cid, retry_after)
            raise RegosRateLimited(retry_after, method=method, connected_integration_id=self.cid)
        try:
            envelope = orjson.loads(resp.content) if resp.content else None
        except orjson.JSONDecodeError:
            envelope = None
        error = envelope.get("result") if isinstance(envelope, dict) and envelope.get("ok") is False else None
        code = error.get("error") if isinstance(error, dict) else None
        description = str(error.get("description", "")) if isinstance(error, dict) else _truncate(resp.content)
        if status >= 500:
            raise RegosServerError(code, description, method=method, connected_integration_id=self.cid, status=status)
        if status >= 400:
            raise RegosAPIError(
                code if code is not None else status,
                description,
                method=method,
                connected_integration_id=self.cid,
                status=status,
            )
        if not isinstance(envelope, dict) or "ok" not in envelope:
            # A proxy page or a truncated body: transient as far as we can tell.
            raise RegosServerError(
                None,
                "response is not a REGOS envelope",
                method=method,
                connected_integration_id=self.cid,
                status=status,
            )
        if envelope["ok"] is not True:
            raise RegosAPIError(
                code if isinstance(code, int) else None,
                description or "unknown error",
                method=method,
                connected_integration_id=self.cid,
                status=status,
            )
        return RegosResponse(envelope.get("result"), envelope.get("next_offset"), envelope.get("total"))


def _cooldown_detail(remaining: float) -> str:
    return f"REGOS asked to pause after a 429, retry after {remaining:.1f}s"
