"""Dead letters: tasks that failed for good, kept for operators to inspect and replay.

Stored in Redis: one JSON record per dead letter (`gw:dead:{id}`, TTL), plus a capped
index list (`gw:dead:index`, newest first, at most MAX_DEAD_LETTERS ids, same TTL).
Records carry the envelope the task received — which never holds secrets — so a replay
re-enqueues exactly the same work under a new task id.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
from redis.asyncio import Redis

INDEX_KEY = "gw:dead:index"
RECORD_PREFIX = "gw:dead:"
MAX_DEAD_LETTERS = 1000
DEAD_LETTER_TTL = 7 * 86_400


async def record(
    redis: Redis,
    *,
    task_name: str,
    task_id: str,
    kwargs: dict[str, Any],
    error: str,
    attempts: int,
    ttl: int = DEAD_LETTER_TTL,
) -> str:
    envelope = kwargs.get("envelope") or {}
    letter = {
        "id": uuid.uuid4().hex,
        "task_name": task_name,
        "task_id": task_id,
        "client": envelope.get("client"),
        "connected_integration_id": envelope.get("connected_integration_id"),
        "action": envelope.get("action"),
        "event_id": envelope.get("event_id"),
        "error": error,
        "attempts": attempts,
        "failed_at": time.time(),
        "kwargs": kwargs,
    }
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(RECORD_PREFIX + letter["id"], orjson.dumps(letter), ex=ttl)
        pipe.lpush(INDEX_KEY, letter["id"])
        pipe.ltrim(INDEX_KEY, 0, MAX_DEAD_LETTERS - 1)
        pipe.expire(INDEX_KEY, ttl)
        await pipe.execute()
    return letter["id"]


async def get(redis: Redis, letter_id: str) -> dict[str, Any] | None:
    raw = await redis.get(RECORD_PREFIX + letter_id)
    return orjson.loads(raw) if raw else None


async def recent(
    redis: Redis,
    *,
    limit: int = 100,
    client: str | None = None,
    connected_integration_id: str | None = None,
    task_name: str | None = None,
) -> list[dict[str, Any]]:
    ids = await redis.lrange(INDEX_KEY, 0, MAX_DEAD_LETTERS - 1)
    if not ids:
        return []
    raws = await redis.mget([RECORD_PREFIX + i.decode() for i in ids])
    letters = [orjson.loads(r) for r in raws if r]
    wanted = [
        letter
        for letter in letters
        if (client is None or letter["client"] == client)
        and (connected_integration_id is None or letter["connected_integration_id"] == connected_integration_id)
        and (task_name is None or letter["task_name"] == task_name)
    ]
    return wanted[:limit]


async def forget(redis: Redis, letter_id: str) -> None:
    await redis.delete(RECORD_PREFIX + letter_id)
    await redis.lrem(INDEX_KEY, 0, letter_id)
