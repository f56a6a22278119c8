"""Closed-loop HTTP/1.1 load generator (asyncio + uvloop, keep-alive, no client library).

    python -m bench.loadgen --port P --path /clients/getsms --bodies FILE --concurrency 32
                            [--warmup N] [--expect-task-id] [--header 'K: V']

FILE holds one JSON body per line; each is POSTed once (the first N as an unmeasured warm-up),
by `concurrency` connections that each send their next request as soon as the previous answer
arrived. A raw client keeps the generator's own CPU per request far below the server's, so
one core of load measures the server, not the client (httpx2 would cost about as much CPU per
request as the server does). Prints one JSON line: counts, statuses, req/s, latency ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any


async def run(args: argparse.Namespace, bodies: list[bytes]) -> dict[str, Any]:
    extra = "".join(f"{h}\r\n" for h in args.header)
    head = f"POST {args.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{extra}"
    requests = [head.encode() + b"Content-Length: %d\r\n\r\n" % len(b) + b for b in bodies]
    warm, timed = requests[: args.warmup], requests[args.warmup :]

    statuses: Counter = Counter()
    latencies: list[float] = []
    bad: list[str] = []
    task_ids: set[str] = set()
    good = [0]

    async def connection(queue: list[bytes], record: bool) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", args.port)
        try:
            while queue:
                request = queue.pop()
                started = time.perf_counter()
                writer.write(request)
                header = await reader.readuntil(b"\r\n\r\n")
                status = int(header[9:12])
                length = 0
                for line in header.split(b"\r\n")[1:]:
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length) if length else b""
                elapsed = time.perf_counter() - started
                if not record:
                    continue
                latencies.append(elapsed * 1000)
                statuses[status] += 1
                ok = status == 200
                if ok and args.expect_task_id:
                    try:
                        task_id = json.loads(body)["result"]["task_id"]
                        ok = bool(task_id)
                        task_ids.add(task_id)
                    except (ValueError, KeyError, TypeError):
                        ok = False
                good[0] += ok
                if not ok and len(bad) < 5:
                    bad.append(f"{status} {body[:200]!r}")
        finally:
            writer.close()

    async def phase(reqs: list[bytes], record: bool) -> float:
        queue = list(reversed(reqs))
        started = time.perf_counter()
        await asyncio.gather(*(connection(queue, record) for _ in range(min(args.concurrency, len(reqs)) or 1)))
        return time.perf_counter() - started

    if warm:
        await phase(warm, False)
    wall = await phase(timed, True)
    latencies.sort()

    def p(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, round(q * (len(latencies) - 1)))], 2)

    return {
        "requests": len(timed),
        "concurrency": args.concurrency,
        "wall_s": round(wall, 3),
        "rps": round(len(timed) / wall, 1),
        "statuses": {str(k): v for k, v in statuses.items()},
        "ok": good[0],
        "bad_samples": bad,
        "distinct_task_ids": len(task_ids),
        "latency_ms": {"p50": p(0.5), "p90": p(0.9), "p99": p(0.99), "max": round(latencies[-1], 2)},
    }


def read_bodies(path: str) -> list[bytes]:
    return [line for line in Path(path).read_bytes().split(b"\n") if line]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--bodies", required=True)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--expect-task-id", action="store_true")
    parser.add_argument("--header", action="append", default=[])
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(run(args, read_bodies(args.bodies)))))


if __name__ == "__main__":
    main()
