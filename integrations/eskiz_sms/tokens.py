"""Eskiz bearer tokens, cached in Redis per connected integration and shared by all workers.

The token is sealed with `SecretBox` (Fernet under GATEWAY_SECRET_KEY) before it is stored.
The key carries a fingerprint of the credentials (an HMAC, never the values), so a changed
ESKIZ_EMAIL/ESKIZ_PASSWORD never reuses a token of the old account.

Logins are serialised by a short Redis lock: when a token is missing or expired, one worker
logs in and the others wait briefly for its token instead of all logging in at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache

from redis.asyncio import Redis

from regos_sdk.redis_kit import SecretBox

TOKEN_TTL_SECONDS = 25 * 86_400  # Eskiz tokens live ~30 days
LOCK_TTL_SECONDS = 20
PREFIX = "gw:eskiz:token:"

# Delete KEYS[1] only if it still holds ARGV[1] (the token that just failed).
_DROP_IF_SAME = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
_UNLOCK = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


@lru_cache(maxsize=8)
def _box(secret_key: bytes) -> SecretBox:
    return SecretBox(secret_key)


@dataclass(frozen=True)
class CachedToken:
    token: str
    sealed: bytes  # the exact bytes stored, to drop it only if it is still the same


class TokenCache:
    def __init__(self, redis: Redis, secret_key: bytes, cid: str, email: str, password: str) -> None:
        fingerprint = hmac.new(secret_key, f"{email}\0{password}".encode(), hashlib.sha256).hexdigest()[:16]
        self.key = f"{PREFIX}{cid.lower()}:{fingerprint}"
        self._lock_key = self.key + ":lock"
        self._redis = redis
        self._box = _box(secret_key)

    async def get(self) -> CachedToken | None:
        sealed = await self._redis.get(self.key)
        if not sealed:
            return None
        try:
            return CachedToken(self._box.open(sealed).decode(), sealed)
        except Exception:  # sealed under another key, or corrupt: treat as absent
            return None

    async def put(self, token: str) -> CachedToken:
        sealed = self._box.seal(token.encode())
        await self._redis.set(self.key, sealed, ex=TOKEN_TTL_SECONDS)
        return CachedToken(token, sealed)

    async def drop_if_same(self, cached: CachedToken) -> None:
        await self._redis.eval(_DROP_IF_SAME, 1, self.key, cached.sealed)

    async def obtain(
        self, login: Callable[[], Awaitable[str]], *, wait: float, stale: CachedToken | None = None
    ) -> tuple[CachedToken, bool]:
        """A usable token: the cached one if it is not `stale`, else a fresh login (one worker
        at a time). Returns (token, logged_in_by_us)."""
        deadline = time.monotonic() + wait
        lock_value = uuid.uuid4().hex
        while True:
            cached = await self.get()
            if cached is not None and (stale is None or cached.sealed != stale.sealed):
                return cached, False
            if await self._redis.set(self._lock_key, lock_value, nx=True, ex=LOCK_TTL_SECONDS):
                try:
                    cached = await self.get()  # someone may have finished just before we locked
                    if cached is not None and (stale is None or cached.sealed != stale.sealed):
                        return cached, False
                    return await self.put(await login()), True
                finally:
                    await self._redis.eval(_UNLOCK, 1, self._lock_key, lock_value)
            if time.monotonic() >= deadline:  # the lock holder is stuck: log in ourselves
                return await self.put(await login()), True
            await asyncio.sleep(0.05)
