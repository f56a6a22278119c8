"""The generic Redis primitives (`kit/`), against the session's private Redis."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from redis.asyncio import Redis

from kit.ratelimit import Cooldown, RedisRateLimiter, WaitTooLong
from kit.secretbox import SecretBox
from kit.token_cache import TokenCache


def _prefix() -> str:
    return f"test:{uuid.uuid4().hex[:8]}:"


def test_rate_limiter_burst_then_rate(redis_url: str) -> None:
    async def scenario() -> list[float]:
        redis = Redis.from_url(redis_url)
        limiter = RedisRateLimiter(redis, prefix=_prefix(), rate=10, burst=3)
        waits = [await limiter.reserve("k") for _ in range(5)]
        await redis.aclose()
        return waits

    waits = asyncio.run(scenario())
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(0.1, abs=0.03)
    assert waits[4] == pytest.approx(0.2, abs=0.03)


def test_acquire_too_long_takes_no_slot_and_keys_expire(redis_url: str) -> None:
    async def scenario() -> None:
        redis = Redis.from_url(redis_url)
        prefix = _prefix()
        limiter = RedisRateLimiter(redis, prefix=prefix, rate=2, burst=1)
        await limiter.acquire("k", max_wait=0)
        with pytest.raises(WaitTooLong) as info:
            await limiter.acquire("k", max_wait=0.1)
        assert info.value.wait == pytest.approx(0.5, abs=0.05)
        # The refused attempt took nothing: the next reservation still waits ~0.5 s, not ~1 s.
        assert await limiter.reserve("k") == pytest.approx(0.5, abs=0.05)
        started = time.monotonic()
        await limiter.acquire("other", max_wait=1)
        assert time.monotonic() - started < 0.05
        for key in await redis.keys(prefix + "*"):
            assert await redis.pttl(key) > 0
        await redis.aclose()

    asyncio.run(scenario())


def test_cooldown_keeps_the_later_deadline(redis_url: str) -> None:
    async def scenario() -> None:
        redis = Redis.from_url(redis_url)
        cooldown = Cooldown(redis, prefix=_prefix())
        assert await cooldown.remaining("k") == 0.0
        await cooldown.set("k", 10)
        await cooldown.set("k", 2)
        assert await cooldown.remaining("k") == pytest.approx(10, abs=0.2)
        await cooldown.set("k", 20)
        assert await cooldown.remaining("k") == pytest.approx(20, abs=0.2)
        await redis.aclose()

    asyncio.run(scenario())


def test_secret_box_round_trip_and_key_separation() -> None:
    box = SecretBox(b"key-one")
    sealed = box.seal(b"bot-token-123")
    assert b"bot-token-123" not in sealed
    assert box.open(sealed) == b"bot-token-123"
    with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidToken
        SecretBox(b"key-two").open(sealed)


def test_token_cache_fetches_once_across_callers_and_drops_only_the_stale_token(redis_url: str) -> None:
    async def scenario() -> None:
        redis = Redis.from_url(redis_url)
        key = _prefix() + "token"
        box = SecretBox(b"k" * 32)
        fetches: list[str] = []

        async def fetch() -> tuple[str, float]:
            fetches.append("fetch")
            await asyncio.sleep(0.2)  # the others wait for the lock meanwhile
            return f"token-{len(fetches)}", 60.0

        caches = [TokenCache(redis, box, key, lock_ttl=5, lock_wait=2) for _ in range(4)]
        results = await asyncio.gather(*(cache.obtain(fetch) for cache in caches))
        assert fetches == ["fetch"]
        assert {cached.token for cached, _ in results} == {"token-1"}
        assert sorted(by_us for _, by_us in results) == [False, False, False, True]
        assert b"token-1" not in await redis.get(key)  # sealed
        assert 55_000 < await redis.pttl(key) <= 60_000
        assert await redis.exists(key + ":lock") == 0

        first = results[0][0]
        replaced, by_us = await caches[0].obtain(fetch, stale=first)  # refused: fetch a new one
        assert (replaced.token, by_us) == ("token-2", True)
        await caches[1].drop(first)  # too late: another caller already replaced it
        assert (await caches[1].read()).token == "token-2"
        await caches[1].drop(replaced)
        assert await caches[1].read() is None
        await redis.aclose()

    asyncio.run(scenario())
