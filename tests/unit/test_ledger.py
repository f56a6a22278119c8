"""The exactly-once ledger's transitions (integrations/ledger.py) against the tests' private Redis."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import orjson
import pytest
from redis.asyncio import Redis

from integrations.ledger import EffectLedger

T = TypeVar("T")


@pytest.fixture
def run(redis_url: str) -> Callable[[Callable[[Redis, str], Awaitable[T]]], T]:
    """Run `check(redis, prefix)` on a fresh client, with a key prefix of its own."""

    def go(check: Callable[[Redis, str], Awaitable[T]]) -> T:
        async def main() -> T:
            redis = Redis.from_url(redis_url)
            try:
                return await check(redis, f"gw:test:fx:{uuid.uuid4().hex}:")
            finally:
                await redis.aclose()

        return asyncio.run(main())

    return go


async def state(redis: Redis, prefix: str, effect_id: str) -> dict | None:
    raw = await redis.get(prefix + effect_id)
    return orjson.loads(raw) if raw else None


def test_claimed_started_sent(run) -> None:
    async def check(redis: Redis, prefix: str) -> None:
        ledger = EffectLedger(redis, ttl=60, prefix=prefix)
        assert await ledger.claim(["a", "b"]) == {}
        assert (await state(redis, prefix, "a"))["state"] == "claimed"
        await ledger.mark_started(["a", "b"])
        assert (await state(redis, prefix, "b"))["state"] == "started"
        await ledger.mark_sent(["a", "b"], provider_id="p-1")
        record = await state(redis, prefix, "a")
        assert (record["state"], record["provider_id"], record["attempt"]) == ("sent", "p-1", ledger.attempt)
        assert 0 < await redis.ttl(prefix + "a") <= 60

    run(check)


def test_a_second_attempt_sees_what_the_first_holds(run) -> None:
    async def check(redis: Redis, prefix: str) -> None:
        first = EffectLedger(redis, ttl=60, prefix=prefix)
        second = EffectLedger(redis, ttl=60, prefix=prefix)
        await first.claim(["a", "b"])
        await first.mark_sent(["a"], provider_id="p-1")
        held = await second.claim(["a", "b", "c"])
        assert {k: v["state"] for k, v in held.items()} == {"a": "sent", "b": "claimed"}
        assert held["b"]["attempt"] == first.attempt
        assert (await state(redis, prefix, "c"))["attempt"] == second.attempt  # c was free: now the second's

    run(check)


def test_unknown_and_released(run) -> None:
    async def check(redis: Redis, prefix: str) -> None:
        first = EffectLedger(redis, ttl=60, prefix=prefix)
        await first.claim(["a", "b"])
        await first.mark_started(["a", "b"])
        await first.mark_unknown(["a"], "read timeout")
        await first.release(["b"])
        record = await state(redis, prefix, "a")
        assert (record["state"], record["reason"]) == ("unknown", "read timeout")
        assert await state(redis, prefix, "b") is None
        assert set(await EffectLedger(redis, ttl=60, prefix=prefix).claim(["a", "b"])) == {"a"}  # b is free again

    run(check)


def test_a_stale_claim_is_taken_after_the_lease_a_started_one_never(run) -> None:
    async def check(redis: Redis, prefix: str) -> None:
        dead = EffectLedger(redis, ttl=60, prefix=prefix)
        await dead.claim(["claimed", "started"])
        await dead.mark_started(["started"])
        old = time.time() - 100
        for effect_id in ("claimed", "started"):
            record = await state(redis, prefix, effect_id)
            await redis.set(prefix + effect_id, orjson.dumps({**record, "at": old}), ex=60)
        later = EffectLedger(redis, ttl=60, prefix=prefix)
        assert set(await later.claim(["claimed", "started"], lease=200)) == {"claimed", "started"}  # lease not over
        held = await later.claim(["claimed", "started"], lease=50)
        assert set(held) == {"started"}  # the request may have left: for the caller to resolve
        assert (await state(redis, prefix, "claimed"))["attempt"] == later.attempt

    run(check)


def test_takeover_is_compare_and_set_on_the_writing_attempt(run) -> None:
    async def check(redis: Redis, prefix: str) -> None:
        first = EffectLedger(redis, ttl=60, prefix=prefix)
        await first.claim(["a", "b", "c"])
        await first.mark_unknown(["a", "b"], "cancelled")
        await first.mark_sent(["c"], provider_id="p-3")
        seen = await EffectLedger(redis, ttl=60, prefix=prefix).claim(["a", "b", "c"])
        winner = EffectLedger(redis, ttl=60, prefix=prefix)
        loser = EffectLedger(redis, ttl=60, prefix=prefix)
        assert await winner.takeover(seen) == ["a", "b"]  # never a `sent` one
        assert await loser.takeover(seen) == []  # the records changed since it looked
        record = await state(redis, prefix, "a")
        assert (record["state"], record["attempt"]) == ("claimed", winner.attempt)
        await winner.release(["b"])
        assert await loser.takeover({"b": seen["b"]}) == ["b"]  # gone: free to take

    run(check)
