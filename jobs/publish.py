"""Publish gateway tasks onto the Celery queues in one Redis round trip.

The ingress does not use `Celery.send_task`: that call blocks the event loop for about a
millisecond per message and, with a Redis result backend, subscribes to every task's result
channel, slowing a long-lived producer down (see shared/docs/performance-notes.md). Instead it
builds the same Celery protocol-2 message kombu's Redis transport would and runs one Lua
script that, atomically,
  1. checks/sets the idempotency key (so concurrent deliveries of one event make one task),
  2. LPUSHes the message onto the queue list the workers BRPOP from — or, for a HandleWebhook,
     appends the event to its connected integration's waiting list and queues one batch message
     only if none is queued for it (`jobs/webhook_batches.py`),
  3. records the task (for `GET /tasks/{id}`) and indexes it per connected integration.
Redis runs scripts atomically; under `noeviction` an out-of-memory Redis refuses the first
write, so either everything above happened or nothing did.

Light on purpose (no Celery import): the ingress, the workers, the replay CLI and tests share it.
"""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis

from jobs import webhook_batches
from jobs.names import HANDLE_WEBHOOK, HANDLE_WEBHOOK_BATCH, QUEUE_OF_TASK
from jobs.records import TASK_INDEX_MAX, TASK_INDEX_PREFIX, TASK_RECORD_PREFIX

_ENQUEUE = """
if tonumber(ARGV[3]) > 0 then
  local existing = redis.call('GET', KEYS[2])
  if existing then return {0, existing} end
  redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
end
if ARGV[8] == '' then
  redis.call('LPUSH', KEYS[1], ARGV[1])
else
  redis.call('RPUSH', KEYS[5], ARGV[8])
  redis.call('EXPIRE', KEYS[5], ARGV[9])
  if redis.call('SET', KEYS[6], '1', 'NX', 'EX', ARGV[10]) then
    redis.call('LPUSH', KEYS[1], ARGV[1])
  end
end
redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[5])
redis.call('ZADD', KEYS[4], ARGV[7], ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -(tonumber(ARGV[6]) + 1))
redis.call('EXPIRE', KEYS[4], ARGV[5])
return {1, ARGV[2]}
"""


@dataclass(frozen=True)
class Published:
    task_id: str
    duplicate: bool


def task_message(
    task_name: str, task_id: str, kwargs: dict[str, Any], *, argsrepr: str, queue: str, request_id: str = ""
) -> bytes:
    """The JSON kombu's Redis transport stores for a Celery protocol-2 task message."""
    body = orjson.dumps([[], kwargs, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}])
    headers = {
        "lang": "py",
        "task": task_name,
        "id": task_id,
        "shadow": None,
        "eta": None,
        "expires": None,
        "group": None,
        "group_index": None,
        "retries": 0,
        "timelimit": [None, None],
        "root_id": task_id,
        "parent_id": None,
        "argsrepr": argsrepr,
        "kwargsrepr": "{}",
        "origin": "gateway-ingress",
        "ignore_result": None,  # None: the task decides (send_messages stores no result of its own)
        "replaced_task_nesting": 0,
        "stamped_headers": None,
        "stamps": {},
        "request_id": request_id,
    }
    return orjson.dumps(
        {
            "body": base64.b64encode(body).decode(),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": headers,
            "properties": {
                "correlation_id": task_id,
                "delivery_mode": 2,
                "delivery_info": {"exchange": "", "routing_key": queue},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": task_id,  # unique per message: every message has its own task id
            },
        }
    )


class Publisher:
    """Enqueue gateway tasks; one instance per process, sharing a redis.asyncio client."""

    def __init__(self, redis: Redis, *, record_ttl: int) -> None:
        self._redis = redis
        self._record_ttl = record_ttl
        self._script = redis.register_script(_ENQUEUE)

    async def publish(
        self,
        task_name: str,
        kwargs: dict[str, Any],
        *,
        argsrepr: str,
        record: dict[str, Any],
        dedupe_key: str | None = None,
        dedupe_ttl: int = 0,
        task_id: str | None = None,
        request_id: str = "",
    ) -> Published:
        """Enqueue unless `dedupe_key` already names a task; then return that task's id."""
        task_id = task_id or str(uuid.uuid4())
        queue = QUEUE_OF_TASK[task_name]
        now = time.time()
        # Only what `/tasks` shows (the key names the task; absent fields are left out): the record
        # lives as long as the result, per event (issue 15: Redis per webhook).
        record = {k: v for k, v in record.items() if v is not None} | {"name": task_name, "created_at": round(now, 3)}
        cid = record.get("connected_integration_id") or "-"
        keys = [queue, dedupe_key or "gw:dedupe:-", TASK_RECORD_PREFIX + task_id, TASK_INDEX_PREFIX + cid]
        if task_name == HANDLE_WEBHOOK:  # waits for its integration's batch (jobs/webhook_batches.py)
            client = kwargs["envelope"]["client"]
            message = task_message(
                HANDLE_WEBHOOK_BATCH,
                f"batch-{task_id}",
                webhook_batches.batch_kwargs(client, cid),
                argsrepr=webhook_batches.batch_argsrepr(client, cid),
                queue=queue,
                request_id=request_id,
            )
            item = webhook_batches.pending_item(task_id, kwargs["envelope"], argsrepr)
            keys += [webhook_batches.pending_key(client, cid), webhook_batches.scheduled_key(client, cid)]
            batching = [item, self._record_ttl, webhook_batches.SCHEDULED_TTL_SECONDS]
        else:
            message = task_message(task_name, task_id, kwargs, argsrepr=argsrepr, queue=queue, request_id=request_id)
            batching = [""]
        created, existing = await self._script(
            keys=keys,
            args=[
                message,
                task_id,
                dedupe_ttl if dedupe_key else 0,
                orjson.dumps(record),
                self._record_ttl,
                TASK_INDEX_MAX,
                now,
                *batching,
            ],
        )
        existing_id = existing.decode() if isinstance(existing, bytes) else str(existing)
        return Published(task_id=existing_id, duplicate=not created)
