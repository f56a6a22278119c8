"""Bulk SMS through the integrations' `send_chunk`, against fakes answering after 50 ms.

    python -m bench.sms_bulk [--smoke] [--messages N] [--concurrency C] [--latency S]

For each provider (Eskiz: chunks of 100, GetSMS: chunks of 50) it sends N messages as
ceil(N / chunk_size) chunks, C chunks at a time (asyncio), each chunk through a fresh
integration instance sharing one Redis and one httpx2 client (as a worker process does), and
reports wall time, messages/s and the ideal `ceil(chunks / C) * latency` with the ratio.
Then it runs every chunk again (a full redelivery) and checks nothing was sent twice.
Results: bench/results/sms_bulk.json. Private Redis and fakes: nothing outside is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import platform
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx2
from redis.asyncio import Redis

from integrations.base import IntegrationContext
from integrations.eskiz_sms import EskizSmsIntegration
from integrations.getsms import GetSmsIntegration
from schemas.envelope import OutgoingMessage
from scripts.local_redis import LocalRedis
from settings import Settings
from tests.fakes.getsms import FakeGetSms
from tests.fakes.regos import FakeRegos
from tests.fakes.sms import FakeEskiz

RESULTS = Path(__file__).resolve().parent / "results" / "sms_bulk.json"


async def run_provider(
    cls: type, settings: Settings, cid: str, n: int, concurrency: int, latency: float
) -> dict[str, Any]:
    from regos_sdk import aclose_shared

    redis = Redis.from_url(settings.redis_url)
    http = httpx2.AsyncClient(limits=httpx2.Limits(max_connections=200, max_keepalive_connections=50))
    messages = [OutgoingMessage(index=i, recipient=f"99890{i:07d}", message=f"Kod {i}") for i in range(n)]
    size = cls.chunk_size
    chunks = [messages[i : i + size] for i in range(0, n, size)]
    gate = asyncio.Semaphore(concurrency)
    bulk = uuid.uuid4().hex

    async def one(k: int, chunk: list[OutgoingMessage]) -> list[Any]:
        async with gate:
            ctx = IntegrationContext(cls.key, cid, settings, redis, http, request_id="bench")
            return await cls(ctx).send_chunk(f"{cls.key}:{cid}:{bulk}:{k}", chunk)

    try:
        # warm-up outside the timing: REGOS token + settings cache, provider login
        await one(-1, [OutgoingMessage(index=0, recipient="998901111111", message="warm-up")])
        started = time.perf_counter()
        results = await asyncio.gather(*(one(k, c) for k, c in enumerate(chunks)))
        wall = time.perf_counter() - started
        started = time.perf_counter()
        again = await asyncio.gather(*(one(k, c) for k, c in enumerate(chunks)))
        redelivery_wall = time.perf_counter() - started
    finally:
        await http.aclose()
        await redis.aclose()
        await aclose_shared()
    statuses = [o.status for chunk in results for o in chunk]
    ideal = math.ceil(len(chunks) / concurrency) * latency
    return {
        "provider": cls.key,
        "messages": n,
        "chunk_size": size,
        "chunks": len(chunks),
        "concurrency": concurrency,
        "latency_s": latency,
        "wall_s": round(wall, 3),
        "messages_per_s": round(n / wall, 1),
        "ideal_s": round(ideal, 3),
        "ratio_to_ideal": round(wall / ideal, 2) if ideal else None,
        "accepted": statuses.count("accepted"),
        "redelivery_wall_s": round(redelivery_wall, 3),
        "redelivery_accepted_without_send": sum(o.status == "accepted" for chunk in again for o in chunk),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="1,000 messages: a quick check")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    n = 1_000 if args.smoke else args.messages

    with tempfile.TemporaryDirectory() as tmp:
        server = LocalRedis(Path(tmp)).start()
        regos, eskiz, getsms = FakeRegos().start(), FakeEskiz(latency=args.latency), FakeGetSms(latency=args.latency)
        eskiz.start()
        getsms.start()
        try:
            settings = Settings(
                environment="test",
                redis_url=server.url,
                eskiz_base_url=eskiz.url,
                getsms_base_url=getsms.base_url,
                public_base_url="http://127.0.0.1:9",
                regos_rate_limit_per_second=1000,
                regos_rate_limit_burst=1000,
                **regos.settings_kwargs(),
            )
            runs = []
            for cls, fake, creds in (
                (EskizSmsIntegration, eskiz, {"ESKIZ_EMAIL": "bench@shop.uz", "ESKIZ_PASSWORD": "pw"}),
                (GetSmsIntegration, getsms, {"GETSMS_LOGIN": "bench", "GETSMS_PASSWORD": "pw"}),
            ):
                cid = uuid.uuid4().hex
                regos.add_connected_integration(cid, cls.key, settings=creds)
                result = asyncio.run(run_provider(cls, settings, cid, n, args.concurrency, args.latency))
                counts = fake.delivered_counts()
                result["provider_accepted"] = sum(counts.values()) - 1  # minus the warm-up message
                result["duplicates"] = sum(v - 1 for v in counts.values() if v > 1)
                runs.append(result)
                print(
                    f"{result['provider']:>10}: {n} msgs, {result['chunks']} chunks x{args.concurrency}: "
                    f"{result['wall_s']:.3f}s = {result['messages_per_s']:.0f} msg/s; ideal {result['ideal_s']:.3f}s "
                    f"(ratio {result['ratio_to_ideal']}); provider got {result['provider_accepted']}, "
                    f"duplicates {result['duplicates']}; redelivery {result['redelivery_wall_s']:.3f}s, resent 0"
                    if result["duplicates"] == 0
                    else f"{result['provider']}: DUPLICATES {result['duplicates']}"
                )
        finally:
            for fake in (regos, eskiz, getsms):
                fake.stop()
            server.stop()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {"at": time.strftime("%Y-%m-%dT%H:%M:%S"), "python": platform.python_version(), "runs": runs}, indent=2
        )
        + "\n"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
