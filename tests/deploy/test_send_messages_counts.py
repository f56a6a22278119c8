"""SendMessages is answered with how many items were accepted and how many were invalid, so the
caller sees a bad phone number at once; the per-item reasons stay with the task (`/tasks`)."""

from __future__ import annotations

import base64
import json

import redis
from starlette.testclient import TestClient

from api.app import create_app
from settings import Settings

CID = "e0000000000000000000000000000017"


def test_counts_of_valid_and_invalid_items(redis_url: str) -> None:
    # A database of its own: the suite's worker consumes database 0 and would take the task.
    redis_url = redis_url.rsplit("/", 1)[0] + "/3"
    settings = Settings(_env_file=None, environment="test", redis_url=redis_url)
    items = [
        {"recipient": "+998 90 123-45-67", "message": "Salom!"},
        {"recipient": "not a phone", "message": "Salom!"},
        {"recipient": "998901234568", "message": "Salom!"},
    ]
    with TestClient(create_app(settings)) as client:
        body = {"action": "SendMessages", "connected_integration_id": CID, "data": items, "event_id": "evt-counts"}
        answer = client.post("/clients/getsms", json=body)
        assert answer.status_code == 200, answer.text
        result = answer.json()["result"]
        assert result["status"] == "queued"
        assert (result["accepted_for_sending"], result["invalid"]) == (2, 1)
        again = client.post("/clients/getsms", json=body).json()["result"]  # a re-delivery: same task, same counts
        assert again["duplicate"] is True and again["task_id"] == result["task_id"]
        assert (again["accepted_for_sending"], again["invalid"]) == (2, 1)
        webhook = {
            "action": "HandleWebhook",
            "connected_integration_id": CID,
            "data": {"action": "DocChequeClosed", "data": {}},
        }
        assert "invalid" not in client.post("/clients/regos_telegram_notifier", json=webhook).json()["result"]
    # The queued task carries which item was invalid and why, for /tasks.
    queued = [json.loads(raw) for raw in redis.Redis.from_url(redis_url).lrange("messages", 0, -1)]
    mine = [m for m in queued if m["headers"]["id"] == result["task_id"]]
    assert len(mine) == 1
    envelope = json.loads(base64.b64decode(mine[0]["body"]))[1]["envelope"]
    assert [item["index"] for item in envelope["data"]["invalid"]] == [1]
