"""A separate OS process making REGOS calls: `python -m tests.sdk.child '<json>'`.

JSON: {"settings": {...Settings kwargs}, "cid": str, "calls": int}. The child connects, prints
`ready`, waits for a line on stdin (the parent's start signal, so children really race), makes
its calls and prints `{"elapsed": seconds}`.
"""

from __future__ import annotations

import asyncio
import sys
import time

import orjson

from regos_sdk import RegosAPI, aclose_shared
from settings import Settings


async def run(args: dict) -> float:
    settings = Settings(**args["settings"])
    async with RegosAPI(args["cid"], settings=settings) as api:
        await api.redis.ping()  # connect before the start line, so only the calls are timed
        print("ready", flush=True)
        sys.stdin.readline()  # a barrier across processes: blocking the loop is the point
        started = time.time()
        for _ in range(args["calls"]):
            await api.call("DocCheque/Get", {"limit": 1})
    await aclose_shared()
    return time.time() - started


if __name__ == "__main__":
    elapsed = asyncio.run(run(orjson.loads(sys.argv[1])))
    print(orjson.dumps({"elapsed": elapsed}).decode())
