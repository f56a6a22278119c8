"""Cross-process pacing in Redis: a GCRA rate limiter and a shared cooldown.

- `RedisRateLimiter`: GCRA limiter across processes (`rate`/s with bursts of `burst`).
- `Cooldown`: a shared "nobody calls until T" marker, set after a 429.

Every key written carries a TTL, so a crash never leaves state behind forever. Times come from
the Redis server (`TIME` / `PTTL`), so processes with skewed clocks still agree.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import NoScriptError


class _Script:
    """A Lua script run by EVALSHA with an EVAL fallback, usable with any Redis client.

    `Redis.register_script` binds a script to one client; the gateway has one client per loop and
    many short-lived limiter objects, so the SHA is computed once per process here instead.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(self, redis: Redis, keys: Sequence[str], args: Sequence[str | int | float]) -> object:
        try:
            return await redis.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await redis.eval(self.source, len(keys), *keys, *args)


# GCRA: the key holds the theoretical arrival time (TAT, ms). A call is allowed now when
# TAT - burst*interval <= now; otherwise it waits the difference. ARGV[3] < 0 means "always take".
_GCRA = _Script(
    """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
local wait = new_tat - burst * interval - now
if wait < 0 then wait = 0 end
if max_wait >= 0 and wait > max_wait then
  return {0, tostring(wait)}
end
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return {1, tostring(wait)}
"""
)

# Keep the later of the existing and the new deadline; the TTL *is* the deadline.
_COOLDOWN_SET = _Script(
    """
local ms = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < ms then
  redis.call('SET', KEYS[1], '1', 'PX', ms)
  return 1
end
return 0
"""
)


class WaitTooLong(Exception):
    """The wait for a slot exceeds what the caller accepts; no slot was taken."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"wait of {wait:.3f}s exceeds the allowed maximum")
        self.wait = wait


class RedisRateLimiter:
    """Cross-process GCRA limiter: `rate` events/second with bursts of `burst`.

    Use one instance per kind of limit (e.g. REGOS calls per connected integration) and pass the
    subject as `key`. Instances are cheap; create them where needed.
    """

    def __init__(self, redis: Redis, *, prefix: str, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.redis = redis
        self.prefix = prefix
        self.rate = rate
        self.burst = burst
        self._interval_ms = 1000.0 / rate

    async def _run(self, key: str, max_wait_ms: float) -> tuple[bool, float]:
        taken, wait_ms = await _GCRA(  # type: ignore[misc]
            self.redis, [self.prefix + key], [repr(self._interval_ms), self.burst, repr(max_wait_ms)]
        )
        return bool(taken), float(wait_ms) / 1000.0

    async def reserve(self, key: str) -> float:
        """Take one slot for `key`; return seconds to wait before acting (0.0 = now).
        The slot is taken even when a wait is returned."""
        return (await self._run(key, -1.0))[1]

    async def acquire(self, key: str, *, max_wait: float) -> None:
        """reserve() and sleep the wait; if the wait exceeds max_wait, do not take the slot and
        raise WaitTooLong(wait)."""
        taken, wait = await self._run(key, max(max_wait, 0.0) * 1000.0)
        if not taken:
            raise WaitTooLong(wait)
        if wait > 0:
            await asyncio.sleep(wait)


class Cooldown:
    """A shared 'nobody calls until T' marker (after a 429).

    The key's TTL is the remaining cooldown, so it needs no clock agreement and vanishes by itself.
    """

    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    async def set(self, key: str, seconds: float) -> None:
        """Block `key` for `seconds`, keeping the later of an existing and the new deadline."""
        ms = math.ceil(seconds * 1000)
        if ms > 0:
            await _COOLDOWN_SET(self.redis, [self.prefix + key], [ms])

    async def remaining(self, key: str) -> float:
        """Seconds left on the cooldown of `key`; 0.0 when none."""
        pttl = await self.redis.pttl(self.prefix + key)
        return pttl / 1000.0 if pttl and pttl > 0 else 0.0
