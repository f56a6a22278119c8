"""GetSMS, worker SIGKILLed with a send in flight: the messages are held, listed, re-sent once.

Real API, real Celery worker process, strict FakeGetSms over HTTP. The fake receives the call
and hangs before acting (a gateway that had not yet taken the messages); the worker dies; the
redelivered chunk finds the claims in flight and cannot ask GetSMS (no request_id before its
answer), so it holds them. The operator lists them, re-sends with one call, and every message
reaches the fake exactly once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

from tests.harness import OPERATOR_TOKEN, Stack, wait_until

AUTH = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


def _sends_of(stack: Stack, login: str) -> list[list[dict]]:
    getsms = stack.fakes["getsms"]
    return [json.loads(c.form()["data"]) for c in getsms.sends() if c.form().get("login") == login]


def test_killed_mid_call_messages_are_held_then_resent_exactly_once(stack: Stack, fresh_fakes) -> None:
    getsms = stack.fakes["getsms"]
    login = f"held-{uuid.uuid4().hex[:8]}"
    cid = stack.new_cid("getsms", {"GETSMS_LOGIN": login, "GETSMS_PASSWORD": "pw-123456"})
    # The next send hangs before the fake acts; its late answer never reaches the dead worker.
    getsms.hang_before_acting(1, delay=20)
    data = [{"recipient": f"99891{i:07d}", "message": f"held {i}"} for i in range(30)]
    bulk_id = stack.call("getsms", "SendMessages", cid, data).json()["result"]["task_id"]
    wait_until(lambda: len(_sends_of(stack, login)) == 1, what="the send call in flight")
    stack.worker.kill()
    stack.worker.start()

    view = stack.wait_task(bulk_id, timeout=60)  # redelivered after the visibility timeout (12 s)
    result = view["result"]
    assert (result["unknown"], result["accepted"], result["failed"]) == (30, 0, 0), result
    assert "held for an operator" in result["messages"][0]["error"]
    assert view["held"]["count"] == 30 and view["held"]["connected_integration_id"] == cid
    assert len(_sends_of(stack, login)) == 1 and getsms.delivered_counts(login) == {}  # not resent blind

    listing = stack.client.get("/admin/held", params={"connected_integration_id": cid}, headers=AUTH).json()
    (entry,) = listing["held"]
    assert entry["bulk_id"] == bulk_id and entry["count"] == 30
    assert entry["messages"][5]["recipient"] == "********0005" and "text" not in entry["messages"][5]

    answer = stack.client.post(f"/admin/held/{bulk_id}/resend", headers=AUTH)
    assert answer.status_code == 200, answer.text
    resend_id = answer.json()["result"]["task_id"]
    again = stack.client.post(f"/admin/held/{bulk_id}/resend", headers=AUTH)
    assert again.status_code == 404  # re-sent once: nothing left to re-send
    resent = stack.wait_task(resend_id, timeout=30)["result"]
    assert (resent["accepted"], resent["unknown"]) == (30, 0), resent
    assert sorted(row["index"] for row in resent["messages"]) == list(range(30))
    counts = getsms.delivered_counts(login)
    assert len(counts) == 30 and set(counts.values()) == {1}
    assert stack.client.get("/admin/held", params={"connected_integration_id": cid}, headers=AUTH).json() == {
        "held": []
    }


def test_resend_cli_lists_and_resends(stack: Stack, fresh_fakes) -> None:
    getsms = stack.fakes["getsms"]
    login = f"cli-{uuid.uuid4().hex[:8]}"
    cid = stack.new_cid("getsms", {"GETSMS_LOGIN": login, "GETSMS_PASSWORD": "pw-123456"})
    getsms.accept_then_hang(1, delay=5)  # GetSMS acts, the answer comes after the 3 s timeout
    data = [{"recipient": f"99893{i:07d}", "message": f"cli {i}"} for i in range(4)]
    bulk_id = stack.call("getsms", "SendMessages", cid, data).json()["result"]["task_id"]
    assert stack.wait_task(bulk_id, timeout=30)["result"]["unknown"] == 4
    env = {**os.environ, **stack.env}

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "workers.resend_held", *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    listed = cli("--list", "--connected-integration-id", cid)
    assert bulk_id in listed and "99893" not in listed  # masked, no texts
    assert f"re-sent held messages of {bulk_id} as task" in cli(bulk_id)
    wait_until(lambda: len(getsms.delivered_counts(login)) == 4 and sum(getsms.delivered_counts(login).values()) == 8)
    # This time GetSMS had acted before the timeout: the operator's re-send made a second SMS,
    # which is why the default policy holds for a decision instead of re-sending by itself.
