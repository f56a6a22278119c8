"""Provider session tokens cached in Redis, sealed, shared by every worker process.

The key carries an HMAC fingerprint of the login and password (never the values), so changed
credentials never reuse a token of the old account. Values are sealed with `SecretBox`
(Fernet under GATEWAY_SECRET_KEY), and every key has a TTL below the token's own life.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from regos_sdk.client import secret_box
from regos_sdk.redis_kit import InvalidToken


class TokenCache:
    def __init__(self, redis: Redis, secret_key: bytes, *, provider: str, cid: str, login: str, password: str) -> None:
        fingerprint = hmac.new(secret_key, f"{login}\0{password}".encode(), hashlib.sha256).hexdigest()[:16]
        self.key = f"gw:edo:{provider}:token:{cid}:{fingerprint}"
        self._redis = redis
        self._box = secret_box(secret_key)

    async def get(self) -> str | None:
        sealed = await self._redis.get(self.key)
        if not sealed:
            return None
        try:
            return self._box.open(sealed).decode()
        except InvalidToken:  # sealed under another key: treat as absent
            return None

    async def put(self, token: str, ttl: int) -> None:
        await self._redis.set(self.key, self._box.seal(token.encode()), ex=max(ttl, 1))

    async def drop(self) -> None:
        await self._redis.delete(self.key)

    async def obtain(self, login: Callable[[], Awaitable[tuple[str, int]]]) -> str:
        """The cached token, or a fresh login's (login returns the token and its cache TTL)."""
        token = await self.get()
        if token is None:
            token, ttl = await login()
            await self.put(token, ttl)
        return token
