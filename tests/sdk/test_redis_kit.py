"""The generic Redis primitives, against the session's private Redis."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from redis.asyncio import Redis

from regos_sdk.redis_kit import Cooldown, RedisRateLimiter, SecretBox, WaitTooLong, single_flight_lock


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


def test_single_flight_lock_is_exclusive_and_released(redis_url: str) -> None:
    async def scenario() -> None:
        redis = Redis.from_url(redis_url)
        key = _prefix() + "lock"
        async with single_flight_lock(redis, key, ttl=5, wait=0) as first:
            assert first is True
            assert 0 < await redis.pttl(key) <= 5000
            async with single_flight_lock(redis, key, ttl=5, wait=0.1) as second:
                assert second is False
        assert await redis.exists(key) == 0

        order: list[str] = []

        async def holder() -> None:
            async with single_flight_lock(redis, key, ttl=5, wait=0) as held:
                assert held
                order.append("holder-in")
                await asyncio.sleep(0.2)
                order.append("holder-out")

        async def waiter() -> None:
            await asyncio.sleep(0.02)
            async with single_flight_lock(redis, key, ttl=5, wait=2) as held:
                assert held
                order.append("waiter-in")

        await asyncio.gather(holder(), waiter())
        assert order == ["holder-in", "holder-out", "waiter-in"]
        await redis.aclose()

    asyncio.run(scenario())
