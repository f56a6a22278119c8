"""Flower sees a SendMessages call as one task that goes PROGRESS → SUCCESS with its totals."""

from __future__ import annotations

import threading
import time

from celery.events.state import State

from tests.harness import Stack


def test_bulk_send_reports_progress_events_until_the_last_chunk(stack: Stack) -> None:
    from workers.app import app

    state = State()
    seen: list[tuple[str, dict]] = []
    ready = threading.Event()
    receivers: list = []

    def listen() -> None:
        with app.connection_for_read(stack.env["REDIS_URL"]) as connection:

            def on_event(event: dict) -> None:
                state.event(event)
                seen.append((event["type"], event))

            receiver = app.events.Receiver(connection, handlers={"*": on_event})
            receivers.append(receiver)
            ready.set()
            receiver.capture(limit=None, timeout=20, wakeup=True)

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    ready.wait(5)
    time.sleep(0.5)
    cid = stack.new_cid("getsms", {"GETSMS_LOGIN": "events", "GETSMS_PASSWORD": "pw"})
    data = [{"recipient": f"99890{i:07d}", "message": "x"} for i in range(120)]
    task_id = stack.call("getsms", "SendMessages", cid, data).json()["result"]["task_id"]
    assert stack.wait_task(task_id)["state"] == "SUCCESS"
    deadline = time.monotonic() + 10
    while (task_id not in state.tasks or state.tasks[task_id].state != "SUCCESS") and time.monotonic() < deadline:
        time.sleep(0.1)

    receivers[0].should_stop = True
    listener.join(5)
    mine = [(kind, event) for kind, event in seen if event.get("uuid") == task_id]
    kinds = [kind for kind, _ in mine]
    assert kinds[:3] == ["task-received", "task-started", "task-progress"], kinds
    progress = [(e["done"], e["total"]) for kind, e in mine if kind == "task-progress"]
    # Chunks finish concurrently, so their progress events may arrive out of order; the final
    # state is still SUCCESS (Flower merges a late PROGRESS into a finished task without a state change).
    assert progress[0] == (0, 120) and max(progress) == (120, 120) and len(progress) >= 3, progress
    (succeeded,) = [event for kind, event in mine if kind == "task-succeeded"]
    assert "'accepted': 120" in succeeded["result"]
    task = state.tasks[task_id]
    assert task.name == "integrations.send_messages" and task.state == "SUCCESS"
    assert "getsms" in task.args and "120 messages" in task.args
