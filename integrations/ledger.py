"""Exactly-once guard for external effects (an SMS batch, one Telegram message).

Each effect has a deterministic id. Before acting, the caller *claims* it; after the provider
accepted, it marks it `sent`; if the provider definitely did not act (refused, 5xx, connection
never made), it *releases* it so a retry may act again. A claim that is found still `inflight`
by a later attempt belongs to an attempt that crashed or timed out after the request left:
its outcome is unknown, and the ledger reports it as such instead of acting twice.
Markers hold no personal data; they expire after `ttl` seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import orjson
from redis.asyncio import Redis

State = Literal["inflight", "sent", "unknown"]

# For each key: SET NX "inflight" with TTL; return the previous value of keys that existed.
_CLAIM = """
local out = {}
for i, key in ipairs(KEYS) do
  local ok = redis.call('SET', key, ARGV[1], 'NX', 'EX', ARGV[2])
  if ok then out[i] = false else out[i] = redis.call('GET', key) end
end
return out
"""


# For each key: SET to ARGV[1] with TTL ARGV[2] (one call for a whole chunk).
_SET_ALL = """
for _, key in ipairs(KEYS) do
  redis.call('SET', key, ARGV[1], 'EX', ARGV[2])
end
return #KEYS
"""


class EffectLedger:
    def __init__(self, redis: Redis, *, ttl: int, prefix: str = "gw:fx:") -> None:
        self._redis = redis
        self._ttl = ttl
        self._prefix = prefix
        self._claim = redis.register_script(_CLAIM)
        self._set_all = redis.register_script(_SET_ALL)

    def _key(self, effect_id: str) -> str:
        return self._prefix + effect_id

    async def claim(self, effect_ids: Sequence[str]) -> dict[str, dict]:
        """Claim every id not yet claimed. Returns {id: previous record} for ids already
        claimed by someone (`state` is inflight, sent or unknown); the others are now ours."""
        if not effect_ids:
            return {}
        inflight = orjson.dumps({"state": "inflight"})
        previous = await self._claim(keys=[self._key(i) for i in effect_ids], args=[inflight, self._ttl])
        return {i: orjson.loads(p) for i, p in zip(effect_ids, previous, strict=True) if p}

    async def _set(self, effect_ids: Sequence[str], record: dict) -> None:
        if not effect_ids:
            return
        await self._set_all(keys=[self._key(i) for i in effect_ids], args=[orjson.dumps(record), self._ttl])

    async def mark_sent(self, effect_ids: Sequence[str], provider_id: str | None = None) -> None:
        await self._set(effect_ids, {"state": "sent", "provider_id": provider_id})

    async def mark_unknown(self, effect_ids: Sequence[str], reason: str) -> None:
        await self._set(effect_ids, {"state": "unknown", "reason": reason})

    async def release(self, effect_ids: Sequence[str]) -> None:
        """The provider did not act: let a later attempt claim these again."""
        if effect_ids:
            await self._redis.delete(*(self._key(i) for i in effect_ids))
