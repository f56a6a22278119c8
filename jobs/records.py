"""Where a task's record and its result live in Redis (read by `GET /tasks/{id}`).

The publisher records every task it queues (`gw:task:{id}`, with the results' TTL) and indexes
it per connected integration (`gw:tasks:{id}`, a sorted set capped at TASK_INDEX_MAX), so
`/tasks/{id}` can tell an id the gateway never issued (404) from one still waiting.
"""

from __future__ import annotations

TASK_RECORD_PREFIX = "gw:task:"
TASK_INDEX_PREFIX = "gw:tasks:"
TASK_INDEX_MAX = 500
RESULT_KEY_PREFIX = "celery-task-meta-"  # Celery's Redis result backend: `<prefix><task id>`
