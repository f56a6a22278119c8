"""Messages held for an operator: sent to a provider that never answered, and not resent.

GetSMS hands out its `request_id` only in the answer, so a call that got no answer (timeout,
crash mid-call) cannot be looked up later: the messages may or may not have gone out. Rather
than dropping them (a lost SMS) or resending blind (maybe a second paid SMS), they are kept
here, one record per bulk send, for an operator to check and re-send with one call
(`POST /admin/held/{bulk_id}/resend`, `python -m workers.resend_held`; see `jobs/replay.py`).

Keys (both expire after `PII_RETENTION_SECONDS`, they hold phone numbers and texts):
- `gw:held:{bulk_id}` hash: `_meta` → {client, connected_integration_id, held_at}; one field
  per message effect id → {index, phone, text, reason, held_at};
- `gw:held:index` sorted set of bulk ids by time, trimmed to the newest `INDEX_MAX`.
A bulk that was re-sent keeps `gw:held:resent:{bulk_id}` so a late redelivery of one of its
chunks does not hold the same messages again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson
from redis.asyncio import Redis

from schemas.envelope import OutgoingMessage, mask_recipient

PREFIX = "gw:held:"
INDEX = "gw:held:index"
RESENT_PREFIX = "gw:held:resent:"
INDEX_MAX = 1000
META = "_meta"

# KEYS: held hash, index, resent marker. ARGV: ttl, now, bulk_id, index max, meta json, then
# field/value pairs. Nothing is held for a bulk already re-sent.
_HOLD = """
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
redis.call('HSETNX', KEYS[1], '_meta', ARGV[5])
for i = 6, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[4]) + 1))
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 1
"""


def _key(bulk_id: str) -> str:
    return PREFIX + bulk_id


async def hold(
    redis: Redis,
    *,
    bulk_id: str,
    client: str,
    connected_integration_id: str,
    messages: Sequence[tuple[str, OutgoingMessage]],
    reason: str,
    ttl: int,
) -> bool:
    """Keep `(effect_id, message)` pairs of `bulk_id` for an operator. False if the bulk was
    already re-sent (nothing held)."""
    if not messages:
        return False
    now = time.time()
    meta = {"client": client, "connected_integration_id": connected_integration_id, "held_at": now}
    args: list[Any] = [ttl, now, bulk_id, INDEX_MAX, orjson.dumps(meta)]
    for effect_id, m in messages:
        row = {"index": m.index, "phone": m.recipient, "text": m.message, "reason": reason, "held_at": now}
        args += [effect_id, orjson.dumps(row)]
    keys = [_key(bulk_id), INDEX, RESENT_PREFIX + bulk_id]
    return bool(await redis.eval(_HOLD, len(keys), *keys, *args))


async def load(redis: Redis, bulk_id: str) -> dict[str, Any] | None:
    """The full record (phones and texts included: for the re-send only), or None."""
    raw = await redis.hgetall(_key(bulk_id))
    if not raw:
        return None
    fields = {(k.decode() if isinstance(k, bytes) else k): orjson.loads(v) for k, v in raw.items()}
    meta = fields.pop(META, {})
    rows = sorted(fields.items(), key=lambda item: item[1]["index"])
    return {"bulk_id": bulk_id, **meta, "messages": [{"effect_id": k, **v} for k, v in rows]}


def public_view(record: dict[str, Any]) -> dict[str, Any]:
    """What an operator sees: recipients masked, texts left out."""
    messages = [
        {"index": m["index"], "recipient": mask_recipient(m["phone"]), "reason": m["reason"], "held_at": m["held_at"]}
        for m in record["messages"]
    ]
    head = {k: v for k, v in record.items() if k != "messages"}
    return {**head, "count": len(messages), "messages": messages}


async def recent(
    redis: Redis, *, limit: int = 100, client: str | None = None, connected_integration_id: str | None = None
) -> list[dict[str, Any]]:
    """Held bulk sends, newest first (public views)."""
    out = []
    for raw_id in await redis.zrevrange(INDEX, 0, INDEX_MAX - 1):
        bulk_id = raw_id.decode() if isinstance(raw_id, bytes) else raw_id
        record = await load(redis, bulk_id)
        if record is None:
            await redis.zrem(INDEX, bulk_id)  # expired: keep the index honest
            continue
        if client and record.get("client") != client:
            continue
        cid = (connected_integration_id or "").lower()
        if cid and record.get("connected_integration_id", "").lower() != cid:
            continue
        out.append(public_view(record))
        if len(out) >= limit:
            break
    return out


async def forget(redis: Redis, bulk_id: str, *, ttl: int) -> None:
    """The bulk was re-sent: drop its record and remember that for `ttl` seconds."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(RESENT_PREFIX + bulk_id, "1", ex=ttl)
        pipe.delete(_key(bulk_id))
        pipe.zrem(INDEX, bulk_id)
        await pipe.execute()
