"""At-least-once execution with idempotent effects: crashes and deploys lose nothing, repeat nothing."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter

from tests.harness import Stack, wait_until

GETSMS = {"GETSMS_LOGIN": "shop", "GETSMS_PASSWORD": "pw-123456"}


def _tenant_reply(cid: str, key: str) -> dict:
    return {"ok": True, "result": [{"connected_integration_id": cid, "key": key, "is_active": True}]}


def _sent_phones(stack: Stack, login: str) -> Counter:
    counts: Counter = Counter()
    for call in stack.fakes["getsms"].sends():
        form = call.form()
        if form.get("login") == login:
            counts.update(item["phone"] for item in json.loads(form["data"]))
    return counts


def test_webhook_held_by_a_killed_worker_runs_again(stack: Stack) -> None:
    cid = stack.new_cid("getsms", GETSMS)
    # The worker will be inside the task (waiting on REGOS) when it is killed.
    stack.regos.fail_next(
        1, status=200, body=_tenant_reply(cid, "getsms"), path_contains=f"{cid}/v1/ConnectedIntegration/Get", delay=5
    )
    response = stack.call("getsms", "HandleWebhook", cid, {"action": "DocChequeClosed", "data": {}}, event_id="k1")
    task_id = response.json()["result"]["task_id"]
    wait_until(
        lambda: (
            len(stack.regos.calls("ConnectedIntegration/Get"))
            and any(cid in c.body.decode() for c in stack.regos.calls("ConnectedIntegration/Get"))
        ),
        what="task started",
    )
    stack.worker.kill()
    stack.worker.start()
    view = stack.wait_task(task_id, timeout=60)  # visibility timeout in tests: 12 s
    assert view["state"] == "SUCCESS", view


def test_bulk_send_survives_a_killed_worker_without_duplicates(stack: Stack) -> None:
    login = f"kill-{os.getpid()}"
    cid = stack.new_cid("getsms", {"GETSMS_LOGIN": login, "GETSMS_PASSWORD": "pw-123456"})
    getsms = stack.fakes["getsms"]
    getsms.latency = 0.05
    try:
        data = [{"recipient": f"99890{i:07d}", "message": f"promo {i}"} for i in range(1000)]
        task_id = stack.call("getsms", "SendMessages", cid, data).json()["result"]["task_id"]
        wait_until(lambda: sum(_sent_phones(stack, login).values()) >= 150, what="send under way")
        stack.worker.kill()
        stack.worker.start()
        view = stack.wait_task(task_id, timeout=90)
    finally:
        getsms.latency = 0.0
    result = view["result"]
    sent = _sent_phones(stack, login)
    assert max(sent.values()) == 1, "a message was sent twice"
    unknown = {row["index"] for row in result["messages"] if row["status"] == "unknown"}
    accepted = {row["index"] for row in result["messages"] if row["status"] == "accepted"}
    assert len(accepted) + len(unknown) == 1000 and result["failed"] == 0, result
    # Only chunks in flight at the crash can be unknown (at most concurrency x 50 messages).
    assert len(unknown) <= 16 * 50
    assert len(sent) >= len(accepted)


def test_sigterm_drains_running_work(stack: Stack) -> None:
    cid = stack.new_cid("getsms", GETSMS)
    stack.regos.fail_next(
        1, status=200, body=_tenant_reply(cid, "getsms"), path_contains=f"{cid}/v1/ConnectedIntegration/Get", delay=3
    )
    task_id = stack.call("getsms", "HandleWebhook", cid, {"action": "X", "data": {}}).json()["result"]["task_id"]
    wait_until(
        lambda: any(cid in c.body.decode() for c in stack.regos.calls("ConnectedIntegration/Get")), what="task started"
    )
    process = stack.worker.process
    assert process is not None
    os.killpg(process.pid, signal.SIGTERM)  # a deploy: warm shutdown
    process.wait(30)
    # The task finished before the worker exited: its result is there without any new worker.
    meta = stack.redis.get(f"celery-task-meta-{task_id}")
    stack.worker.start()
    assert meta is not None and json.loads(meta)["status"] == "SUCCESS", meta


def test_same_webhook_three_times_concurrently_makes_one_task(stack: Stack) -> None:
    cid = stack.new_cid("getsms", GETSMS)
    answers: list[dict] = []
    barrier = threading.Barrier(3)

    def deliver() -> None:
        barrier.wait()
        answers.append(stack.call("getsms", "HandleWebhook", cid, {"action": "X", "data": {}}, event_id="once").json())

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    task_ids = {a["result"]["task_id"] for a in answers}
    assert len(task_ids) == 1
    assert sorted(bool(a["result"].get("duplicate")) for a in answers) == [False, True, True]


def test_regos_500s_then_recovery(stack: Stack) -> None:
    cid = stack.new_cid("getsms", GETSMS)
    stack.regos.fail_next(5, status=500, path_contains=f"{cid}/v1/ConnectedIntegration/Get")
    task_id = stack.call("getsms", "HandleWebhook", cid, {"action": "X", "data": {}}).json()["result"]["task_id"]
    view = stack.wait_task(task_id, timeout=60)
    assert view["state"] == "SUCCESS" and view["retries"] >= 1, view


def test_regos_429_storm_is_waited_out(stack: Stack) -> None:
    cid = stack.new_cid("getsms", GETSMS)
    stack.regos.fail_next(
        6, status=429, headers={"Retry-After": "1"}, path_contains=f"{cid}/v1/ConnectedIntegration/Get"
    )
    task_id = stack.call("getsms", "HandleWebhook", cid, {"action": "X", "data": {}}).json()["result"]["task_id"]
    assert stack.wait_task(task_id, timeout=60)["state"] == "SUCCESS"


def test_hanging_regos_times_out_and_retries(stack: Stack) -> None:
    cid = stack.new_cid("getsms", GETSMS)
    stack.regos.fail_next(1, status=200, body={}, path_contains=f"{cid}/v1/ConnectedIntegration/Get", delay=8)
    started = time.monotonic()
    task_id = stack.call("getsms", "HandleWebhook", cid, {"action": "X", "data": {}}).json()["result"]["task_id"]
    assert stack.wait_task(task_id, timeout=60)["state"] == "SUCCESS"
    assert time.monotonic() - started < 8, "the REGOS timeout (2 s in tests) did not fire"


def test_permanent_failure_is_dead_lettered_and_replayable(stack: Stack) -> None:
    from tests.harness import OPERATOR_TOKEN

    auth = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    cid = stack.new_cid("getsms", GETSMS, active=False)
    task_id = stack.call("getsms", "HandleWebhook", cid, {"action": "X", "data": {}}).json()["result"]["task_id"]
    assert stack.wait_task(task_id)["state"] == "FAILURE"
    letters = stack.client.get("/admin/dead-letters", params={"connected_integration_id": cid}, headers=auth).json()
    (letter,) = letters["dead_letters"]
    assert letter["task_name"] == "integrations.handle_webhook" and "not active" in letter["error"]
    stack.regos.add_connected_integration(cid, "getsms", is_active=True, settings=GETSMS)
    stack.redis.delete(f"gw:tenant:{cid}")
    replay = stack.client.post(f"/admin/dead-letters/{letter['id']}/replay", headers=auth).json()
    assert stack.wait_task(replay["result"]["task_id"])["state"] == "SUCCESS"
    assert (
        stack.client.get("/admin/dead-letters", params={"connected_integration_id": cid}, headers=auth).json()[
            "dead_letters"
        ]
        == []
    )
