"""Celery configuration, loaded by `workers.app` with `config_from_object("celeryconfig")`.

Queues are split by kind of work so that a 10,000-message blast on `messages` can never delay
a webhook: `make run` gives `messages` its own worker process, while a plain
`celery -A workers.app worker` (no `-Q`) still consumes every queue below.
Task names and the queue of each are the queue contract in `jobs/names.py`, shared with the
ingress, which publishes straight to these queue names (see `jobs/publish.py`).
"""

from __future__ import annotations

from kombu import Queue

from jobs.names import EDO_AUTO_IMPORT, QUEUE_OF_TASK, QUEUES
from settings import get_settings

_settings = get_settings()

broker_url = _settings.broker_url
result_backend = _settings.result_backend
broker_connection_retry_on_startup = True
broker_transport_options = {
    # Unacked messages return to the queue after this long: it bounds how soon the work of a
    # SIGKILLed worker runs again. Tasks, retry countdowns and inline waits stay below it.
    "visibility_timeout": _settings.visibility_timeout_seconds,
    # Sweep for expired unacked messages every 5 s (kombu's default is ~100 s), so work held by
    # a SIGKILLed worker runs again within visibility_timeout + 5 s (65 s in production).
    "unacked_restore_interval": 5,
    "unacked_restore_throttle": 1,
    "socket_timeout": 5,
    "socket_connect_timeout": 5,
}
result_backend_transport_options = {"retry_policy": {"timeout": 5.0}}

task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
result_accept_content = ["json"]

task_queues = [Queue(name, routing_key=name) for name in QUEUES]
task_default_queue = "webhooks"
task_routes = {name: {"queue": queue, "routing_key": queue} for name, queue in QUEUE_OF_TASK.items()}

task_acks_late = True
task_reject_on_worker_lost = True
task_acks_on_failure = True  # a failed task is dead-lettered, not redelivered
task_acks_on_timeout = True
worker_prefetch_multiplier = 1
# The thread pool enforces no Celery time limits: workers/runtime.py cancels a task's coroutine
# after TASK_TIME_LIMIT_SECONDS instead (and the task retries).
task_track_started = True
result_expires = _settings.result_expires_seconds
result_extended = True

# I/O-bound work: one process runs many tasks at once on its threads, all feeding the
# process's single event loop (workers/runtime.py).
worker_pool = "threads"
worker_concurrency = _settings.worker_concurrency
worker_send_task_events = True
task_send_sent_event = True
worker_hijack_root_logger = False
worker_cancel_long_running_tasks_on_connection_loss = False

# Celery beat (`make run`, compose `beat`): celery-redbeat keeps the schedule and a lock in Redis,
# so a second beat process waits for the lock instead of doubling every tick.
EDO_AUTO_IMPORT_INTERVAL_SECONDS = 300
beat_scheduler = "redbeat.RedBeatScheduler"
redbeat_redis_url = _settings.broker_url
redbeat_key_prefix = "gw:redbeat:"  # entries gw:redbeat:<name>, bounded by beat_schedule; the lock has a TTL
redbeat_redis_options = {"socket_timeout": 5, "socket_connect_timeout": 5}
redbeat_lock_timeout = 3 * EDO_AUTO_IMPORT_INTERVAL_SECONDS  # a dead beat's lock frees itself
beat_schedule = {
    "edo-auto-import": {
        "task": EDO_AUTO_IMPORT,
        "schedule": float(EDO_AUTO_IMPORT_INTERVAL_SECONDS),
        "options": {"expires": EDO_AUTO_IMPORT_INTERVAL_SECONDS},  # a late tick is skipped, not piled up
    }
}
