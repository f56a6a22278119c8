"""Progress and results of a SendMessages call that runs as many chunk tasks.

`gw:bulk:{id}` (hash) holds the totals; `gw:bulk:{id}:out` (hash) one outcome list per chunk.
Completing a chunk is idempotent (a redelivered chunk counts once), and exactly one chunk —
the one that completes the last — finalizes: it aggregates every outcome and stores it as the
result of the parent task id, the id the ingress handed to REGOS. Both keys expire with the
task results; outcomes carry masked recipients only.
"""

from __future__ import annotations

from typing import Any

import orjson
from redis.asyncio import Redis

from schemas.envelope import InvalidItem, MessageOutcome

PREFIX = "gw:bulk:"

# KEYS[1]=bulk hash, KEYS[2]=outcomes hash; ARGV: chunk_no, outcomes json, message count, ttl
_COMPLETE = """
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'done_chunks', 1)
  redis.call('HINCRBY', KEYS[1], 'done_messages', tonumber(ARGV[3]))
  redis.call('EXPIRE', KEYS[2], ARGV[4])
end
local done = tonumber(redis.call('HGET', KEYS[1], 'done_chunks') or '0')
local chunks = tonumber(redis.call('HGET', KEYS[1], 'chunks') or '-1')
if done >= chunks and redis.call('HSETNX', KEYS[1], 'finalized', '1') == 1 then return 1 end
return 0
"""


def _keys(bulk_id: str) -> tuple[str, str]:
    return PREFIX + bulk_id, PREFIX + bulk_id + ":out"


async def start(redis: Redis, bulk_id: str, *, total: int, chunks: int, invalid: list[InvalidItem], ttl: int) -> bool:
    """Record the plan once (a redelivered parent keeps the first); False when already finalized."""
    key, _ = _keys(bulk_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hsetnx(key, "total", total)
        pipe.hsetnx(key, "chunks", chunks)
        pipe.hsetnx(key, "invalid", orjson.dumps([i.model_dump() for i in invalid]))
        pipe.hsetnx(key, "done_chunks", 0)
        pipe.hsetnx(key, "done_messages", 0)
        pipe.expire(key, ttl)
        pipe.hget(key, "finalized")
        *_, finalized = await pipe.execute()
    return finalized is None


async def complete_chunk(redis: Redis, bulk_id: str, chunk_no: int, outcomes: list[MessageOutcome], ttl: int) -> bool:
    """Record a chunk's outcomes; True for the one caller that must finalize the bulk."""
    return await complete_rows(redis, bulk_id, chunk_no, [o.model_dump(exclude_none=True) for o in outcomes], ttl)


async def complete_rows(redis: Redis, bulk_id: str, chunk_no: int, rows: list[dict[str, Any]], ttl: int) -> bool:
    """Any fan-out's part (SendMessages chunk, EDO export document): its result rows, counted once."""
    return bool(await redis.eval(_COMPLETE, 2, *_keys(bulk_id), chunk_no, orjson.dumps(rows), len(rows), ttl))


async def all_rows(redis: Redis, bulk_id: str) -> list[dict[str, Any]]:
    """Every recorded part's rows, in no particular order."""
    return [row for raw in await redis.hvals(_keys(bulk_id)[1]) for row in orjson.loads(raw)]


async def progress(redis: Redis, bulk_id: str) -> dict[str, int] | None:
    raw = await redis.hmget(_keys(bulk_id)[0], ["done_messages", "total", "done_chunks", "chunks"])
    if raw[1] is None:
        return None
    done, total, done_chunks, chunks = (int(v or 0) for v in raw)
    return {"done": done, "total": total, "done_chunks": done_chunks, "chunks": chunks}


async def summary(redis: Redis, bulk_id: str) -> dict[str, Any]:
    """The final result: totals and one row per message, invalid ones included, by index."""
    key, out_key = _keys(bulk_id)
    invalid_raw, outcome_lists = await redis.hget(key, "invalid"), await redis.hvals(out_key)
    rows: list[dict[str, Any]] = [row for raw in outcome_lists for row in orjson.loads(raw)]
    rows += [
        {"index": i["index"], "recipient": "", "status": "invalid", "error": i["reason"]}
        for i in orjson.loads(invalid_raw or b"[]")
    ]
    rows.sort(key=lambda row: row["index"])
    counts = {
        status: sum(1 for r in rows if r["status"] == status) for status in ("accepted", "failed", "unknown", "invalid")
    }
    return {"total": len(rows), **counts, "messages": rows}
