"""Webhooks wait per connected integration and run in batches: the keys and scripts both sides share.

The ingress (`jobs/publish.py`) records and dedupes each HandleWebhook under its own task id as
before, but instead of one Celery message per event it RPUSHes the event onto
`gw:wh:<client>:<cid>` and queues one `integrations.handle_webhook_batch` message only when the
flag `gw:wh:sched:<client>:<cid>` was not set (one script: atomic). The batch task
(`workers/batch.py`) reads up to WEBHOOK_BATCH_MAX events without popping them — a worker killed
mid-batch leaves them for the redelivered message — and, when done, `FINISH` trims what it
handled and queues the next batch message if more arrived, or clears the flag.

Trimming goes up to the last handled item (LPOS), never by count: if two batch messages ever
run for one integration (the flag expired under a long backlog), the second trims nothing it did
not see, so an event can run twice (effects stay exactly-once through the ledger) but never be
dropped unrun.
"""

from __future__ import annotations

from typing import Any

import orjson

PENDING_PREFIX = "gw:wh:"
SCHEDULED_PREFIX = "gw:wh:sched:"
# How long the "a batch message is queued" flag holds without a worker refreshing it. Longer than
# any batch message should wait behind others; if it lapses anyway, a second batch message is only
# wasted work (see the module doc), while a flag left by a dead-lettered batch frees itself in time.
SCHEDULED_TTL_SECONDS = 600

# KEYS: pending list, scheduled flag, queue. ARGV: last handled item ('' = none), next batch
# message, pending TTL, flag TTL. Returns 1 if a next batch was queued, else 0.
FINISH = """
if ARGV[1] ~= '' then
  local at = redis.call('LPOS', KEYS[1], ARGV[1])
  if at then redis.call('LTRIM', KEYS[1], at + 1, -1) end
end
if redis.call('LLEN', KEYS[1]) > 0 then
  redis.call('LPUSH', KEYS[3], ARGV[2])
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[4])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return 1
end
redis.call('DEL', KEYS[2])
return 0
"""


def pending_key(client: str, cid: str) -> str:
    return f"{PENDING_PREFIX}{client}:{cid}"


def scheduled_key(client: str, cid: str) -> str:
    return f"{SCHEDULED_PREFIX}{client}:{cid}"


def batch_kwargs(client: str, cid: str) -> dict[str, Any]:
    """The batch task's kwargs: which integration's waiting webhooks it runs (never the events)."""
    return {"client": client, "connected_integration_id": cid}


def batch_argsrepr(client: str, cid: str) -> str:
    return f"{client} {cid} webhook batch"


def pending_item(task_id: str, envelope: dict[str, Any], argsrepr: str) -> bytes:
    """One waiting event: its own task id (results, Flower), its envelope and Flower-safe args."""
    return orjson.dumps({"id": task_id, "envelope": envelope, "argsrepr": argsrepr})
