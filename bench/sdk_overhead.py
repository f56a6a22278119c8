"""What the SDK adds per call on top of a bare HTTP POST: `python -m bench.sdk_overhead [--calls N] [--smoke]`.

Starts FakeRegos (latency 0) and a private Redis, then times N sequential
`api.call("DocCheque/Get", body)` against N bare `httpx2.AsyncClient.post` calls to the same
endpoint with the same body and headers, on the same pooled client. Both run in alternating
blocks so drift (CPU frequency, GC) hits both equally. The overhead is the cooldown check, the
rate-limiter slot (two Redis round trips), envelope parsing and logging.

The rate limit is set very high here so it never waits: this measures the limiter's cost, not
its throttling, which tests/sdk/test_multiprocess.py covers.

Writes bench/results/sdk_overhead.json.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from regos_sdk import RegosAPI, aclose_shared
from regos_sdk.client import shared_http
from scripts.local_redis import LocalRedis
from settings import Settings
from tests.fakes.regos import FakeRegos

METHOD = "DocCheque/Get"
BLOCK = 50
RESULTS = Path(__file__).resolve().parent / "results" / "sdk_overhead.json"


def summarise(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "mean_us": statistics.fmean(ordered) * 1e6,
        "p50_us": ordered[len(ordered) // 2] * 1e6,
        "p99_us": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e6,
    }


async def measure(settings: Settings, cid: str, calls: int) -> dict[str, list[float]]:
    body = {"uuids": ["bench-cheque"], "limit": 10}
    sdk: list[float] = []
    bare: list[float] = []
    async with RegosAPI(cid, settings=settings, request_id="bench") as api:
        await api.call(METHOD, body)  # token fetched, connections warm
        token = await api.transport.tokens.get(method=METHOD, cid=cid)
        http = shared_http()
        url = api.transport.base_url + METHOD
        headers = {"X-Request-Id": "bench", "Authorization": f"Bearer {token}"}
        payload = orjson.dumps(body)
        for _ in range(min(calls, 20)):
            await http.post(url, content=payload, headers=headers)
        done = 0
        while done < calls:
            block = min(BLOCK, calls - done)
            for _ in range(block):
                started = time.perf_counter()
                response = await http.post(url, content=payload, headers=headers)
                orjson.loads(response.content)
                bare.append(time.perf_counter() - started)
            for _ in range(block):
                started = time.perf_counter()
                await api.call(METHOD, body)
                sdk.append(time.perf_counter() - started)
            done += block
    await aclose_shared()
    return {"sdk": sdk, "bare": bare}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--smoke", action="store_true", help="a tiny run to check that the bench works")
    args = parser.parse_args()
    calls = 50 if args.smoke else args.calls
    logging.basicConfig(level=logging.WARNING)  # INFO per call would measure the log handler

    with tempfile.TemporaryDirectory() as tmp:
        redis = LocalRedis(Path(tmp)).start()
        fake = FakeRegos(latency=0.0).start()
        try:
            fake.add_cheque("bench-cheque", amount=1000)
            settings = Settings(
                environment="test",
                redis_url=redis.url,
                regos_rate_limit_per_second=1e6,
                regos_rate_limit_burst=1_000_000,
                **fake.settings_kwargs(),
            )
            samples = asyncio.run(measure(settings, uuid.uuid4().hex, calls))
        finally:
            fake.stop()
            redis.stop()

    bare, sdk = summarise(samples["bare"]), summarise(samples["sdk"])
    result: dict[str, Any] = {
        "calls": calls,
        "bare_httpx": bare,
        "sdk_call": sdk,
        "overhead_us_per_call": {k: sdk[k] - bare[k] for k in ("mean_us", "p50_us")},
        "note": "rate limit set high: limiter cost included, throttling not; FakeRegos latency 0",
    }
    print(f"{'':12}{'mean µs':>10}{'p50 µs':>10}{'p99 µs':>10}")
    for name, row in (("bare httpx2", bare), ("sdk call", sdk)):
        print(f"{name:12}{row['mean_us']:>10.0f}{row['p50_us']:>10.0f}{row['p99_us']:>10.0f}")
    overhead = result["overhead_us_per_call"]
    print(f"{'overhead':12}{overhead['mean_us']:>10.0f}{overhead['p50_us']:>10.0f}{'':>10}   ({calls} calls each)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    print(f"written {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")


if __name__ == "__main__":
    main()
