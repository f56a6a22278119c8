"""The Celery application: `celery -A workers.app worker` / `celery -A workers.app flower`."""

from __future__ import annotations

from celery import Celery
from celery.signals import worker_init, worker_process_shutdown, worker_shutdown

from logconfig import configure_logging
from redis_durability import check_at_startup
from settings import get_settings

# Imported for their signal handlers: the consumer heartbeat, the WORKER_METRICS_PORT endpoint, task metrics.
from workers import heartbeat  # noqa: F401
from workers.metrics import endpoint, task_runs  # noqa: F401
from workers.runtime import runtime

configure_logging()

app = Celery("regos_gateway")
app.config_from_object("celeryconfig")
app.autodiscover_tasks(["workers"], related_name="tasks", force=True)


@worker_init.connect
def _check_redis(**_: object) -> None:
    # Workers only: `celery inspect`, Flower and `python -m workers.replay` import this app too.
    check_at_startup(get_settings(), "worker")


@worker_shutdown.connect
@worker_process_shutdown.connect
def _close_runtime(**_: object) -> None:
    runtime.shutdown()
