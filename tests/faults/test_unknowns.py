"""No message silently lost (issue 12): unknown outcomes are resolved after a crash.

Real worker processes are SIGKILLed while Eskiz batches are in flight; the redelivered chunks ask
Eskiz what it holds for their dispatch and send only the rest. Exactness is checked on the fake's
own records of what it accepted (`FakeEskiz.delivered`), not on the gateway's report.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.harness import Stack, WorkerProcess, stack_env, wait_until

N = 1000  # 10 chunks of 100


def _eskiz_cid(stack: Stack) -> tuple[str, str]:
    email = f"{uuid.uuid4().hex[:10]}@unknowns.uz"
    return stack.new_cid("eskiz_sms", {"ESKIZ_EMAIL": email, "ESKIZ_PASSWORD": "pw-123456"}), email


def _data(n: int) -> list[dict[str, str]]:
    return [{"recipient": f"+998 93 {i:07d}", "message": f"Aksiya {i}"} for i in range(n)]


def _batches_seen(stack: Stack, cid: str) -> int:
    return sum(1 for c in stack.fakes["eskiz"].calls("/message/sms/send-batch") if cid in c.body.decode())


def _totals(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "messages"}


def _kill_and_finish(stack: Stack, task_id: str) -> dict[str, Any]:
    stack.worker.kill()
    stack.worker.start()
    view = stack.wait_task(task_id, timeout=150)  # redelivery after the visibility timeout (12 s in tests)
    assert view["state"] == "SUCCESS", view
    return view["result"]


def test_killed_with_batches_in_flight_that_eskiz_never_took(stack: Stack, fresh_fakes) -> None:
    eskiz = stack.fakes["eskiz"]
    cid, email = _eskiz_cid(stack)
    # Every first send-batch hangs before the fake acts: Eskiz takes nothing.
    eskiz.fail_next(10, status=500, path_contains="/message/sms/send-batch", delay=20)
    task_id = stack.call("eskiz_sms", "SendMessages", cid, _data(N)).json()["result"]["task_id"]
    wait_until(lambda: _batches_seen(stack, cid) >= 10, timeout=30, what="10 batches in flight")
    assert eskiz.delivered_counts(email) == {}
    result = _kill_and_finish(stack, task_id)
    counts = eskiz.delivered_counts(email)
    assert len(counts) == N and set(counts.values()) == {1}, "a message was lost or sent twice"
    assert _totals(result) | {"invalid": 0} == {
        "total": N,
        "accepted": N,
        "failed": 0,
        "unknown": 0,
        "invalid": 0,
        "reconciled": 0,
        "resent": N,
        "unresolved": 0,
        "complete": True,
    }


def test_killed_after_eskiz_took_every_batch_in_flight(stack: Stack, fresh_fakes) -> None:
    eskiz = stack.fakes["eskiz"]
    cid, email = _eskiz_cid(stack)
    # Every first send-batch is accepted (recorded) and then answered only after 20 s.
    eskiz.accept_then_hang(10, delay=20)
    task_id = stack.call("eskiz_sms", "SendMessages", cid, _data(N)).json()["result"]["task_id"]
    wait_until(lambda: len(eskiz.delivered_counts(email)) >= N, timeout=30, what="Eskiz took every batch")
    lookups_before = len(eskiz.calls("/message/sms/get-user-messages-by-dispatch"))
    result = _kill_and_finish(stack, task_id)
    counts = eskiz.delivered_counts(email)
    assert len(counts) == N and set(counts.values()) == {1}, "a message was sent twice"
    assert (result["accepted"], result["reconciled"], result["resent"], result["unknown"]) == (N, N, 0, 0)
    assert result["complete"] is True and "warning" not in result
    assert len(eskiz.calls("/message/sms/get-user-messages-by-dispatch")) - lookups_before >= 10
    # Reconciled rows carry Eskiz's ids: a delivery report for any of them matches its status row.
    row = next(r for r in eskiz.delivered if r["account"] == email)
    stored = stack.redis.hgetall(f"gw:sms:status:{cid}:{row['user_sms_id']}")
    assert stored[b"message_id"].decode() == row["message_id"]


# --- the task time limit cancels a chunk before its request left -------------------------------


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def short_limit_stack(
    redis_url: str, fakes: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """A second gateway (own Redis database, own worker, own ingress) whose task time limit (5 s)
    is shorter than its provider timeout (8 s): a hanging Eskiz login outlasts the limit."""
    from starlette.testclient import TestClient

    from api.app import create_app
    from settings import Settings

    url = redis_url.rsplit("/", 1)[0] + "/8"
    env = stack_env(url, fakes, TASK_TIME_LIMIT_SECONDS="5", PROVIDER_TIMEOUT_SECONDS="8")
    worker = WorkerProcess(env, Path(tmp_path_factory.mktemp("short-worker")) / "worker.log").start()
    with _environ(env):
        settings = Settings()
    try:
        with TestClient(create_app(settings)) as client:
            yield Stack(env, fakes, worker, client, redis.Redis.from_url(url))
    finally:
        worker.stop()


def test_chunk_cancelled_by_the_time_limit_before_its_request_left_is_sent_on_retry(
    short_limit_stack: Stack, fresh_fakes
) -> None:
    stack = short_limit_stack
    eskiz = stack.fakes["eskiz"]
    cid, email = _eskiz_cid(stack)
    eskiz.fail_next(1, status=500, path_contains="/auth/login", delay=7)  # the token wait outlasts 5 s
    lookups_before = len(eskiz.calls("/message/sms/get-user-messages-by-dispatch"))
    task_id = stack.call("eskiz_sms", "SendMessages", cid, _data(5)).json()["result"]["task_id"]
    view = stack.wait_task(task_id, timeout=60)
    assert view["state"] == "SUCCESS", view
    result = view["result"]
    assert (result["accepted"], result["unknown"], result["resent"], result["reconciled"]) == (5, 0, 0, 0)
    counts = eskiz.delivered_counts(email)
    assert len(counts) == 5 and set(counts.values()) == {1}
    assert "TASK_TIME_LIMIT_SECONDS" in stack.worker.log()  # the first attempt was cancelled by the limit
    assert len(eskiz.calls("/message/sms/get-user-messages-by-dispatch")) == lookups_before  # released, not unknown


def test_bulk_with_unresolved_unknowns_says_so() -> None:
    from workers.messages import with_truth

    rows = [
        {"index": 0, "status": "accepted", "resolution": "reconciled"},
        {"index": 1, "status": "accepted", "resolution": "resent"},
        {"index": 2, "status": "unknown"},
        {"index": 3, "status": "accepted"},
    ]
    final = with_truth({"total": 4, "accepted": 3, "failed": 0, "unknown": 1, "invalid": 0, "messages": rows})
    assert (final["reconciled"], final["resent"], final["unresolved"], final["complete"]) == (1, 1, 1, False)
    assert "1 messages have an unknown outcome" in final["warning"]
    clean = with_truth({"total": 1, "accepted": 1, "unknown": 0, "messages": rows[3:]})
    assert clean["complete"] is True and "warning" not in clean
