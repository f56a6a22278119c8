"""Eskiz bearer tokens, cached per connected integration and shared by all workers.

The shared encrypted token cache (`kit.token_cache`): sealed with `SecretBox`, keyed by an HMAC
fingerprint of the credentials, and when a token is missing or expired one worker logs in while
the others wait briefly for its token instead of all logging in at once.
"""

from __future__ import annotations

from redis.asyncio import Redis

from kit.secretbox import secret_box
from kit.token_cache import CachedToken, TokenCache, credentials_fingerprint

__all__ = ["TOKEN_TTL_SECONDS", "CachedToken", "TokenCache", "token_cache"]

TOKEN_TTL_SECONDS = 25 * 86_400  # Eskiz tokens live ~30 days
LOCK_TTL_SECONDS = 20
PREFIX = "gw:eskiz:token:"


def token_cache(
    redis: Redis, secret_key: bytes, cid: str, email: str, password: str, *, login_wait: float
) -> TokenCache:
    """`login_wait`: how long a worker waits for another's login before logging in itself."""
    key = f"{PREFIX}{cid.lower()}:{credentials_fingerprint(secret_key, email, password)}"
    return TokenCache(redis, secret_box(secret_key), key, lock_ttl=LOCK_TTL_SECONDS, lock_wait=login_wait)
