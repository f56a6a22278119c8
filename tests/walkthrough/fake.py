"""A strict fake of the walk-through's TinySMS (its contract: tests/walkthrough/tinysms/integration.py)."""

from __future__ import annotations

import itertools
from typing import Any

from tests.fakes.base import FakeServer, Recorded, Reply


class FakeTinySms(FakeServer):
    base_url_env = "TINYSMS_BASE_URL"
    API_KEY = "tiny-key-0123456789"

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[dict[str, Any]] = []  # every message taken, in order
        self._batches = itertools.count(1)

    def handle(self, request: Recorded) -> Reply:
        if request.method != "POST" or request.path != "/send":  # exact path and method only
            return Reply(404, b"not found", content_type="text/plain")
        if request.headers.get("content-type") != "application/json":
            return Reply(415, {"error": "JSON only"})
        if request.headers.get("authorization") != f"Bearer {self.API_KEY}":
            return Reply(401, {"error": "wrong API key"})
        body = request.json()
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(messages, list) or not all({"id", "to", "text"} <= set(m) for m in messages):
            return Reply(400, {"error": "messages: [{id, to, text}] expected"})
        with self.lock:
            self.sent.extend(messages)
        return Reply(200, {"batch_id": f"b{next(self._batches)}"})
