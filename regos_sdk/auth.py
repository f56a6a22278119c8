"""OAuth2 client-credentials token shared by every process of the gateway.

One token serves every connected integration, so it lives in Redis (encrypted with
`SecretBox`) until `TOKEN_SAFETY_MARGIN` seconds before it expires, plus a process-local copy
so a call costs no Redis round trip for the token. On a miss only one process asks the token
endpoint (`single_flight_lock`); the others wait for the lock and find the cache filled.

The token never appears in logs or exception messages.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx2
import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from regos_sdk.errors import RegosAuthError, RegosTransportError
from regos_sdk.redis_kit import InvalidToken, SecretBox, single_flight_lock
from settings import Settings

log = logging.getLogger("regos_sdk.client")

TOKEN_SAFETY_MARGIN = 60.0
LOCK_TTL = 15.0  # longer than one token request may take
LOCK_WAIT = 10.0

# Compare-and-delete on the exact ciphertext we read: only drop the token that failed.
_DELETE_IF_SAME = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass
class _Cached:
    token: str
    sealed: bytes  # what Redis holds, to compare-and-delete exactly this token
    expires_at: float  # time.monotonic()


# Per process, keyed by the Redis cache key (which names the token endpoint and client id).
_local: dict[str, _Cached] = {}


class TokenProvider:
    """Hands out a valid bearer token; `invalidate(token)` after REGOS answered 401 to it."""

    def __init__(self, settings: Settings, redis: Redis, http: httpx2.AsyncClient, box: SecretBox) -> None:
        self.settings = settings
        self.redis = redis
        self.http = http
        self.box = box
        ident = f"{settings.regos_oauth_token_url}|{settings.regos_oauth_client_id}".encode()
        # Different token endpoints/clients (tests, staging) must never share a token.
        self.key = "gw:regos:token:" + hashlib.sha256(ident).hexdigest()[:16]
        self.lock_key = self.key + ":lock"

    async def get(self, *, method: str, cid: str) -> str:
        cached = _local.get(self.key)
        if cached and cached.expires_at > time.monotonic():
            return cached.token
        cached = await self._read_redis()
        if cached:
            return cached.token
        try:
            async with single_flight_lock(self.redis, self.lock_key, ttl=LOCK_TTL, wait=LOCK_WAIT) as _held:
                # Double-checked: the previous holder has usually just stored a token.
                cached = await self._read_redis()
                if cached:
                    return cached.token
                return await self._fetch_and_store(method=method, cid=cid)
        except RedisError as exc:
            log.warning("token cache unavailable (%s); fetching a token without it", type(exc).__name__)
            return await self._fetch_and_store(method=method, cid=cid)

    async def invalidate(self, token: str) -> None:
        """Forget `token` here and in Redis, unless another process already replaced it."""
        cached = _local.get(self.key)
        if cached and cached.token == token:
            _local.pop(self.key, None)
        try:
            sealed = await self.redis.get(self.key)
            if sealed and self._open(sealed) == token:
                await self.redis.eval(_DELETE_IF_SAME, 1, self.key, sealed)
        except RedisError:
            pass

    def _open(self, sealed: bytes) -> str | None:
        try:
            return self.box.open(sealed).decode()
        except InvalidToken:
            return None  # sealed under another secret key: a miss

    async def _read_redis(self) -> _Cached | None:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                sealed, pttl = await pipe.get(self.key).pttl(self.key).execute()
        except RedisError as exc:
            log.warning("token cache unavailable (%s)", type(exc).__name__)
            return None
        if not sealed or pttl is None or pttl <= 0:
            return None
        token = self._open(sealed)
        if token is None:
            return None
        cached = _Cached(token, sealed, time.monotonic() + pttl / 1000.0)
        _local[self.key] = cached
        return cached

    async def _fetch_and_store(self, *, method: str, cid: str) -> str:
        token, expires_in = await self._request_token(method=method, cid=cid)
        ttl = max(expires_in - TOKEN_SAFETY_MARGIN, min(expires_in / 2, 5.0), 1.0)
        sealed = self.box.seal(token.encode())
        try:
            await self.redis.set(self.key, sealed, px=int(ttl * 1000))
        except RedisError as exc:
            log.warning("could not cache the REGOS token (%s)", type(exc).__name__)
        _local[self.key] = _Cached(token, sealed, time.monotonic() + ttl)
        return token

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
