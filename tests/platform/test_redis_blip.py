"""Redis restarted while the stack is idle: acknowledged work still completes (issue 12).

Every pooled connection of the worker (and of the ingress) predates the restart and is closed
by then; the first command on one fails with "Connection closed by server". That is an
infrastructure blip: the work is retried (redis-py's pools reconnect), never dead-lettered.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.local_redis import LocalRedis
from tests.harness import Stack, isolated_stack, wait_until

GETSMS_SETTINGS = {"GETSMS_LOGIN": "shop", "GETSMS_PASSWORD": "s3cret-pass"}


def _post_until_queued(stack: Stack, client: str, action: str, cid: str, data: object, **extra: str) -> str:
    """The ingress may answer 503 while its own pool reconnects: REGOS would re-deliver, so do we."""
    deadline = time.monotonic() + 10
    while True:
        response = stack.call(client, action, cid, data, **extra)
        if response.status_code == 200:
            return response.json()["result"]["task_id"]
        assert response.status_code == 503 and time.monotonic() < deadline, response.text
        time.sleep(0.2)


def _restart(redis_server: LocalRedis) -> None:
    port = redis_server.port
    redis_server.stop()
    redis_server.port = port
    redis_server.start()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[LocalRedis]:
    server = LocalRedis(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def own_stack(own_redis: LocalRedis, fakes: dict[str, Any], tmp_path: Path) -> Iterator[Stack]:
    """Restarting the suite's shared Redis would leave stale connections in every other test's clients."""
    with isolated_stack(own_redis.url, fakes, tmp_path) as stack:
        yield stack


def test_webhook_and_send_messages_complete_after_a_redis_restart(own_stack: Stack, own_redis: LocalRedis) -> None:
    stack, redis_server = own_stack, own_redis
    cid = stack.new_cid("getsms", {**GETSMS_SETTINGS, "GETSMS_LOGIN": f"blip-{uuid.uuid4().hex[:8]}"})
    webhook = {"action": "DocChequeClosed", "data": {"uuid": "x"}}
    # Warm every pool of the worker: tenant check, REGOS token, settings, ledger, results.
    warm = stack.call("getsms", "SendMessages", cid, [{"recipient": "998901234567", "message": "warm"}])
    assert stack.wait_task(warm.json()["result"]["task_id"])["state"] == "SUCCESS"
    # The worker now holds a delayed task (the GetSMS status poll, scheduled with a countdown):
    # losing the broker while holding one is what killed Celery 5.7.0 workers.
    wait_until(lambda: stack.redis.hlen("unacked") > 0, what="a delayed task held by the worker")

    _restart(redis_server)

    hook_id = _post_until_queued(stack, "getsms", "HandleWebhook", cid, webhook, event_id=f"evt-{cid}")
    messages = [{"recipient": f"99890123456{i}", "message": f"after restart {i}"} for i in range(3)]
    send_id = _post_until_queued(stack, "getsms", "SendMessages", cid, messages)

    hook = stack.wait_task(hook_id, timeout=60)
    assert hook["state"] == "SUCCESS", hook
    send = stack.wait_task(send_id, timeout=60)
    assert send["state"] == "SUCCESS", send
    assert send["result"]["accepted"] == 3, send["result"]
    dead = stack.client.get(
        "/admin/dead-letters",
        params={"connected_integration_id": cid},
        headers={"Authorization": f"Bearer {stack.env['OPERATOR_TOKEN']}"},
    )
    assert dead.status_code == 200 and dead.json()["dead_letters"] == [], dead.text
