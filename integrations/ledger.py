"""Exactly-once guard for external effects (an SMS batch, one Telegram message).

Each effect has a deterministic id and one record in Redis, moving through these states:

- `claimed`: an attempt owns the effect; no request has left yet;
- `started`: the request is about to leave (or has left): the provider may act from now on;
- `sent`: the provider accepted (`provider_id` kept);
- `unknown`: the attempt ended without learning the outcome (read timeout, cancelled mid-call);
- released: the record is deleted — the provider did not act, a later attempt may act again.

Records carry the attempt that wrote them (`attempt`) and when (`at`, epoch seconds), so a later
attempt can tell a live owner from a dead one and take an effect over with compare-and-set
(`takeover`) instead of racing a concurrent owner. `claimed` records older than the claim lease
(`claim(..., lease=...)`: the task time limit, after which no attempt is still running) belong to
a crashed attempt that never sent: they are claimed again. `started` / `unknown` ones are for the
caller to resolve (ask the provider, resend an idempotent id, or hold): see
`integrations.sms.dispatch`. Records written before `started` existed say `inflight`; they are
treated as `started` (the request may have left). Markers hold no personal data; they expire
after `ttl` seconds.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Collection, Mapping, Sequence

import orjson
from redis.asyncio import Redis

from integrations.errors import ClaimedByAnotherAttempt
from schemas.message_state import EffectState

# For each key: SET NX the claim with TTL, or take over a `claimed` record older than the lease
# (ARGV[3] = now, ARGV[4] = lease seconds, 0 = never); return the previous value of keys we did
# not get (false for keys that are now ours).
_CLAIM = """
local out = {}
local now, lease = tonumber(ARGV[3]), tonumber(ARGV[4])
for i, key in ipairs(KEYS) do
  local ok = redis.call('SET', key, ARGV[1], 'NX', 'EX', ARGV[2])
  if ok then
    out[i] = false
  else
    local cur = redis.call('GET', key)
    local stale = false
    if lease > 0 then
      local okj, rec = pcall(cjson.decode, cur)
      stale = okj and type(rec) == 'table' and rec.state == 'claimed' and tonumber(rec.at or 0) < now - lease
    end
    if stale then
      redis.call('SET', key, ARGV[1], 'EX', ARGV[2])
      out[i] = false
    else
      out[i] = cur
    end
  end
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

# Compare-and-set takeover: KEYS[i] becomes ARGV[1] (TTL ARGV[2]) only if it still holds a record
# that is not `sent` and was written by attempt ARGV[2 + i] ('' = a record without attempt).
_TAKEOVER = """
local out = {}
for i, key in ipairs(KEYS) do
  local cur = redis.call('GET', key)
  local take = false
  if cur then
    local okj, rec = pcall(cjson.decode, cur)
    if okj and type(rec) == 'table' and rec.state ~= 'sent' and (rec.attempt or '') == ARGV[2 + i] then
      take = true
    end
  else
    take = true
  end
  if take then
    redis.call('SET', key, ARGV[1], 'EX', ARGV[2])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""


def new_attempt() -> str:
    return uuid.uuid4().hex


class EffectLedger:
    def __init__(self, redis: Redis, *, ttl: int, prefix: str = "gw:fx:", attempt: str | None = None) -> None:
        self._redis = redis
        self._ttl = ttl
        self._prefix = prefix
        self.attempt = attempt or new_attempt()
        self._claim = redis.register_script(_CLAIM)
        self._set_all = redis.register_script(_SET_ALL)
        self._takeover = redis.register_script(_TAKEOVER)

    def _key(self, effect_id: str) -> str:
        return self._prefix + effect_id

    def _record(self, state: EffectState, **extra: object) -> bytes:
        return orjson.dumps({"state": state, "attempt": self.attempt, "at": round(time.time(), 3), **extra})

    async def claim(self, effect_ids: Sequence[str], *, lease: float = 0) -> dict[str, dict]:
        """Claim every id not yet claimed (and, with `lease` > 0, every `claimed` record older than
        `lease` seconds: its attempt died before any request left). Returns {id: previous record}
        for ids someone else holds (`state` claimed, started, sent, unknown or legacy inflight);
        the others are now ours."""
        if not effect_ids:
            return {}
        previous = await self._claim(
            keys=[self._key(i) for i in effect_ids],
            args=[self._record("claimed"), self._ttl, f"{time.time():.3f}", lease],
        )
        return {i: orjson.loads(p) for i, p in zip(effect_ids, previous, strict=True) if p}

    async def _set(self, effect_ids: Sequence[str], record: bytes) -> None:
        if not effect_ids:
            return
        await self._set_all(keys=[self._key(i) for i in effect_ids], args=[record, self._ttl])

    async def mark_started(self, effect_ids: Sequence[str]) -> None:
        """The request is about to leave: from now on the provider may act."""
        await self._set(effect_ids, self._record("started"))

    async def mark_sent(self, effect_ids: Sequence[str], provider_id: str | None = None) -> None:
        await self._set(effect_ids, self._record("sent", provider_id=provider_id))

    async def mark_sent_each(self, provider_ids: Mapping[str, str | None]) -> None:
        """`mark_sent` with one provider id per effect (what a reconciliation found)."""
        for effect_id, provider_id in provider_ids.items():
            await self._set([effect_id], self._record("sent", provider_id=provider_id))

    async def mark_unknown(self, effect_ids: Sequence[str], reason: str) -> None:
        await self._set(effect_ids, self._record("unknown", reason=reason))

    async def takeover(self, previous: Mapping[str, Mapping]) -> list[str]:
        """Claim effects whose previous record (as `claim` returned it) is still unchanged and not
        `sent`: compare-and-set on the writing attempt, so of two attempts resolving the same
        unknown, one wins. Returns the ids that are now ours (state `claimed`)."""
        ids = list(previous)
        if not ids:
            return []
        expected = [str(previous[i].get("attempt") or "") for i in ids]
        taken = await self._takeover(
            keys=[self._key(i) for i in ids], args=[self._record("claimed"), self._ttl, *expected]
        )
        return [i for i, ok in zip(ids, taken, strict=True) if ok]

    async def release(self, effect_ids: Sequence[str]) -> None:
        """The provider did not act: let a later attempt claim these again."""
        if effect_ids:
            await self._redis.delete(*(self._key(i) for i in effect_ids))

    async def yield_to_live_attempts(
        self, label: str, earlier: Collection[Mapping], *, lease: float, release: Sequence[str]
    ) -> None:
        """Before taking over the `earlier` records of other attempts: if one of those attempts
        may still be running, release our own claims (`release`) and raise ClaimedByAnotherAttempt
        to retry once it has certainly ended."""
        now = time.time()
        wait = max((_still_running(record, lease, now) for record in earlier), default=0.0)
        if wait > 0:
            await self.release(release)
            raise ClaimedByAnotherAttempt(
                f"{label}: {len(earlier)} messages are claimed by another attempt that may still be running; "
                f"retrying in {wait:.0f} s, when it has certainly ended",
                retry_after=wait + 0.5,
            )


def _still_running(record: Mapping, lease: float, now: float) -> float:
    """Seconds until the attempt that wrote `record` has certainly ended (0: it has). An `unknown`
    record was written by an attempt as it ended; `claimed` / `started` ones by one that may still
    be sending until its time limit (the lease, 0 = none: never waited for) has passed."""
    if lease <= 0 or record.get("state") not in ("claimed", "started"):
        return 0.0
    return max(0.0, float(record.get("at") or 0) + lease - now)
