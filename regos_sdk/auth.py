"""OAuth2 client-credentials token shared by every process of the gateway.

One token serves every connected integration, so it lives in the shared encrypted token cache
(`kit.token_cache`: sealed in Redis until `TOKEN_SAFETY_MARGIN` seconds before it expires, fetched
by one process at a time), plus a process-local copy so a call costs no Redis round trip for the
token.

The token never appears in logs or exception messages.
"""

from __future__ import annotations

import hashlib
import logging
import time
from urllib.parse import urlencode

import httpx2
import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from kit.secretbox import SecretBox
from kit.token_cache import CachedToken, TokenCache
from regos_sdk.errors import RegosAuthError, RegosTransportError
from settings import Settings

log = logging.getLogger("regos_sdk.client")

TOKEN_SAFETY_MARGIN = 60.0
LOCK_TTL = 15.0  # longer than one token request may take
LOCK_WAIT = 10.0

# Per process, keyed by the Redis cache key (which names the token endpoint and client id).
_local: dict[str, CachedToken] = {}


class TokenProvider:
    """Hands out a valid bearer token; `invalidate(token)` after REGOS answered 401 to it."""

    def __init__(self, settings: Settings, redis: Redis, http: httpx2.AsyncClient, box: SecretBox) -> None:
        self.settings = settings
        self.http = http
        ident = f"{settings.regos_oauth_token_url}|{settings.regos_oauth_client_id}".encode()
        # Different token endpoints/clients (tests, staging) must never share a token.
        self.key = "gw:regos:token:" + hashlib.sha256(ident).hexdigest()[:16]
        self.cache = TokenCache(redis, box, self.key, lock_ttl=LOCK_TTL, lock_wait=LOCK_WAIT)

    async def get(self, *, method: str, cid: str) -> str:
        cached = _local.get(self.key)
        if cached and cached.expires_at > time.monotonic():
            return cached.token
        fetched: list[tuple[str, float]] = []

        async def fetch() -> tuple[str, float]:
            token, expires_in = await self._request_token(method=method, cid=cid)
            fetched.append((token, max(expires_in - TOKEN_SAFETY_MARGIN, min(expires_in / 2, 5.0), 1.0)))
            return fetched[-1]

        try:
            cached, _ = await self.cache.obtain(fetch)
        except RedisError as exc:
            # Degrade: every process asks the token endpoint itself until Redis is back.
            log.warning("token cache unavailable (%s); fetching a token without it", type(exc).__name__)
            token, ttl = fetched[-1] if fetched else await fetch()
            sealed = b""  # never in Redis: nothing to compare-and-delete
            cached = CachedToken(token, sealed, time.monotonic() + ttl)
        _local[self.key] = cached
        return cached.token

    async def invalidate(self, token: str) -> None:
        """Forget `token` here and in Redis, unless another process already replaced it."""
        cached = _local.get(self.key)
        if cached and cached.token == token:
            _local.pop(self.key, None)
        try:
            stored = await self.cache.read()
            if stored and stored.token == token:
                await self.cache.drop(stored)
        except RedisError:
            pass

    async def _request_token(self, *, method: str, cid: str) -> tuple[str, float]:
        s = self.settings
        started = time.perf_counter()
        try:
            # Encoded and labelled here, not left to the client: a default Content-Type on a shared
            # client would otherwise win and the OAuth server would refuse the form (RFC 6749 §2.3.1).
            resp = await self.http.post(
                s.regos_oauth_token_url,
                content=urlencode(
                    {
                        "grant_type": "client_credentials",
                        "client_id": s.regos_oauth_client_id,
                        "client_secret": s.regos_oauth_client_secret.get_secret_value(),
                    }
                ),
                headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
                timeout=s.regos_timeout_seconds,
            )
        except httpx2.HTTPError as exc:
            raise RegosTransportError(
                f"token endpoint unreachable: {type(exc).__name__}", method=method, connected_integration_id=cid
            ) from None
        log.info("regos token request status=%s ms=%.1f", resp.status_code, (time.perf_counter() - started) * 1000)
        if resp.status_code >= 500 or resp.status_code == 429:
            raise RegosTransportError(
                f"token endpoint answered HTTP {resp.status_code}",
                method=method,
                connected_integration_id=cid,
                status=resp.status_code,
            )
        if resp.status_code != 200:
            raise RegosAuthError(
                f"token endpoint refused the token request (HTTP {resp.status_code}{_oauth_error(resp)})",
                method=method,
                connected_integration_id=cid,
                status=resp.status_code,
            )
        try:
            payload = orjson.loads(resp.content)
            token = str(payload["access_token"])
            expires_in = float(payload.get("expires_in") or 3600)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise RegosAuthError(
                "token endpoint answered without an access_token", method=method, connected_integration_id=cid
            ) from None
        return token, expires_in


def _oauth_error(resp: httpx2.Response) -> str:
    """The RFC 6749 §5.2 `error` code of a refusal (never secret), e.g. ", invalid_client"."""
    try:
        error = orjson.loads(resp.content).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    return f", {str(error)[:64]}" if error else ""
