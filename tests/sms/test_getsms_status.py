"""GetSMS delivery statuses through the whole stack: accepted messages are polled on `status/`."""

from __future__ import annotations

import json
import uuid

from tests.harness import Stack, wait_until


def test_accepted_messages_get_polled_statuses(stack: Stack, fresh_fakes) -> None:
    getsms = stack.fakes["getsms"]
    login = f"st-{uuid.uuid4().hex[:8]}"
    cid = stack.new_cid("getsms", {"GETSMS_LOGIN": login, "GETSMS_PASSWORD": "pw-123456"})
    data = [{"recipient": f"99894{i:07d}", "message": f"status {i}"} for i in range(3)]
    bulk_id = stack.call("getsms", "SendMessages", cid, data).json()["result"]["task_id"]
    result = stack.wait_task(bulk_id, timeout=30)["result"]
    ids = [row["provider_id"] for row in result["messages"]]
    assert result["accepted"] == 3 and all(ids)
    getsms.set_status(ids[1], "undelivered")

    def stored(request_id: str) -> str | None:
        value = stack.redis.hget(f"gw:sms:status:{cid.lower()}:{request_id}", "status")
        return value.decode() if value else None

    wait_until(lambda: [stored(i) for i in ids] == ["delivered", "undelivered", "delivered"], what="statuses")
    polls = [c for c in getsms.calls("/smsgateway/status/") if c.form().get("login") == login]
    assert polls and json.loads(polls[0].form()["data"]) == [{"request_id": i} for i in ids]
    assert all(c.path == "/smsgateway/status/" for c in polls)
    assert stack.redis.hget(f"gw:sms:status:{cid.lower()}:{ids[0]}", "recipient") == b"********0000"
