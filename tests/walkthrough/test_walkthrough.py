"""The walk-through provider through the real stack: ingress, queue, worker, ledger, fake."""

from __future__ import annotations

from tests.harness import Stack
from tests.walkthrough.fake import FakeTinySms

KEY = {"TINYSMS_API_KEY": FakeTinySms.API_KEY}


def send(stack: Stack, cid: str, *texts: str) -> dict:
    data = [{"recipient": "+998 90 123-45-67", "message": text} for text in texts]
    answer = stack.call("tinysms", "SendMessages", cid, data)
    assert answer.status_code == 200, answer.text
    return stack.wait_task(answer.json()["result"]["task_id"])


def test_send_messages_reach_the_provider_once(tiny_stack: Stack) -> None:
    fake: FakeTinySms = tiny_stack.fakes["tinysms"]
    cid = tiny_stack.new_cid("tinysms", KEY)
    view = send(tiny_stack, cid, "walk 1", "walk 2")
    assert view["state"] == "SUCCESS", view
    result = view["result"]
    assert (result["accepted"], result["failed"], result["unknown"]) == (2, 0, 0)
    assert [m["status"] for m in result["messages"]] == ["accepted", "accepted"]
    taken = [m for m in fake.sent if m["text"] in {"walk 1", "walk 2"}]
    assert sorted(m["text"] for m in taken) == ["walk 1", "walk 2"]
    assert all(m["to"] == "998901234567" and len(m["id"]) == 32 for m in taken)


def test_a_provider_500_is_retried_without_a_second_send(tiny_stack: Stack) -> None:
    fake: FakeTinySms = tiny_stack.fakes["tinysms"]
    cid = tiny_stack.new_cid("tinysms", KEY)
    fake.fail_next(2, 500, path_contains="/send")
    view = send(tiny_stack, cid, "retried walk")
    assert view["state"] == "SUCCESS", view
    assert view["result"]["accepted"] == 1
    assert [m["text"] for m in fake.sent].count("retried walk") == 1


def test_a_missing_setting_fails_the_message_naming_it(tiny_stack: Stack) -> None:
    cid = tiny_stack.new_cid("tinysms", {})
    view = send(tiny_stack, cid, "no key")
    assert "TINYSMS_API_KEY" in str(view), view
