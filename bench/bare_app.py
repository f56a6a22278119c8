"""The gateway app plus, for benchmarks only, `POST /bench/bare`: parse JSON, return a constant.

`uvicorn bench.bare_app:app` serves the real ingress and the "limit" endpoint from one process
with the same settings, so the two figures of bench/ingress.py are comparable. Not used in
production (the route exists only in this module).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from api.app import create_app

app = create_app()


@app.post("/bench/bare", include_in_schema=False)
async def bare(request: Request) -> dict[str, Any]:
    orjson.loads(await request.body())
    return {"ok": True, "result": {"status": "queued", "task_id": "00000000-0000-0000-0000-000000000000"}}
