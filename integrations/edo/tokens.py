"""EDO provider session tokens: the shared encrypted token cache (`kit.token_cache`).

The key carries an HMAC fingerprint of the login and password (never the values), so changed
credentials never reuse a token of the old account; values are sealed with `SecretBox`, every key
has a TTL below the token's own life, and one worker at a time logs in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from kit.secretbox import secret_box
from kit.token_cache import TokenCache as SharedTokenCache
from kit.token_cache import credentials_fingerprint

LOCK_TTL_SECONDS = 30.0  # longer than one login may take
LOGIN_WAIT_SECONDS = 20.0


class TokenCache:
    def __init__(self, redis: Redis, secret_key: bytes, *, provider: str, cid: str, login: str, password: str) -> None:
        key = f"gw:edo:{provider}:token:{cid}:{credentials_fingerprint(secret_key, login, password)}"
        self._cache = SharedTokenCache(
            redis, secret_box(secret_key), key, lock_ttl=LOCK_TTL_SECONDS, lock_wait=LOGIN_WAIT_SECONDS
        )
        self.key = key

    async def obtain(self, login: Callable[[], Awaitable[tuple[str, int]]]) -> str:
        """The cached token, or a fresh login's (login returns the token and its cache TTL)."""
        cached, _ = await self._cache.obtain(login)
        return cached.token
