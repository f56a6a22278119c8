"""The consumer heartbeat's keys: written by every worker, read by `GET /admin/queues`.

kombu's Redis transport keeps no record of who consumes a queue (workers BRPOP the lists;
`_kombu.binding.*` sets outlive the workers that declared them), and Celery's
`inspect().active_queues()` would load Celery into the ingress and cost a full broadcast timeout
per call. Instead each worker process stamps its node name, every HEARTBEAT_SECONDS while its
consumer runs, into the sorted set `gw:consumers:<queue>` of every queue it consumes, and its
details into `gw:worker:<node>`. A consumer is live while its stamp is younger than
STALE_AFTER_SECONDS; a clean shutdown removes it at once, a SIGKILLed worker drops out after
STALE_AFTER_SECONDS. Both keys expire after KEY_TTL_SECONDS without a beat.
"""

from __future__ import annotations

CONSUMERS_KEY_PREFIX = "gw:consumers:"
WORKER_KEY_PREFIX = "gw:worker:"
HEARTBEAT_SECONDS = 5.0
STALE_AFTER_SECONDS = 15.0
KEY_TTL_SECONDS = 60
