"""A bearer token shared by every process: cached in Redis, sealed, fetched once.

The cached value is sealed with `SecretBox` and expires with the TTL the caller gives (below the
token's own life). On a miss one process fetches under a `redis.asyncio.lock.Lock` while the
others wait for it and find the cache filled; a fetcher that waits past `lock_wait` (the holder
is stuck) fetches on its own. After the other side refused a token, `drop(stale)` deletes it only
if it is still the one stored (a WATCH transaction), and `obtain(..., stale=...)` never hands it
out again.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import LockError, WatchError

from kit.secretbox import InvalidToken, SecretBox

# Fetches a new token: returns it and how long (seconds) it may be cached.
Fetch = Callable[[], Awaitable[tuple[str, float]]]
LOCK_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class CachedToken:
    token: str
    sealed: bytes  # the exact bytes stored, to drop this token and no successor
    expires_at: float  # time.monotonic()


class TokenCache:
    def __init__(self, redis: Redis, box: SecretBox, key: str, *, lock_ttl: float, lock_wait: float) -> None:
        self.redis = redis
        self.box = box
        self.key = key
        self.lock_ttl = lock_ttl
        self.lock_wait = lock_wait

    async def read(self) -> CachedToken | None:
        async with self.redis.pipeline(transaction=False) as pipe:
            sealed, pttl = await pipe.get(self.key).pttl(self.key).execute()
        if not sealed or pttl is None or pttl <= 0:
            return None
        try:
            token = self.box.open(sealed).decode()
        except InvalidToken:  # sealed under another secret key: a miss
            return None
        return CachedToken(token, sealed, time.monotonic() + pttl / 1000.0)

    async def store(self, token: str, ttl: float) -> CachedToken:
        ttl_ms = max(int(ttl * 1000), 1000)
        sealed = self.box.seal(token.encode())
        await self.redis.set(self.key, sealed, px=ttl_ms)
        return CachedToken(token, sealed, time.monotonic() + ttl_ms / 1000.0)

    async def drop(self, stale: CachedToken) -> None:
        """Delete the stored token if it is still `stale` (another process may have replaced it)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(self.key)
                if await pipe.get(self.key) != stale.sealed:
                    return
                pipe.multi()
                pipe.delete(self.key)
                await pipe.execute()
            except WatchError:  # replaced meanwhile: the new token stays
                pass

    async def obtain(self, fetch: Fetch, *, stale: CachedToken | None = None) -> tuple[CachedToken, bool]:
        """A usable token: the cached one unless it is `stale`, else one fetch across processes.
        Returns (token, fetched_by_us)."""
        cached = await self._usable(stale)
        if cached is not None:
            return cached, False
        lock = self.redis.lock(
            self.key + ":lock",
            timeout=self.lock_ttl,
            sleep=LOCK_POLL_SECONDS,
            blocking_timeout=self.lock_wait,
            thread_local=False,
        )
        held = await lock.acquire()
        try:
            if held:  # double-checked: the previous holder has usually just stored a token
                cached = await self._usable(stale)
                if cached is not None:
                    return cached, False
            token, ttl = await fetch()
            return await self.store(token, ttl), True
        finally:
            if held:
                # LockError: it expired while we fetched, and a successor may hold it now.
                with contextlib.suppress(LockError):
                    await lock.release()

    async def _usable(self, stale: CachedToken | None) -> CachedToken | None:
        cached = await self.read()
        if cached is None or (stale is not None and cached.sealed == stale.sealed):
            return None
        return cached


def credentials_fingerprint(secret_key: bytes, *credentials: str) -> str:
    """A short HMAC of the credentials (never the values) for a cache key: changed credentials
    never reuse a token of the old account."""
    return hmac.new(secret_key, "\0".join(credentials).encode(), hashlib.sha256).hexdigest()[:16]
