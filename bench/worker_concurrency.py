"""One worker process runs dozens of I/O-bound tasks at once (issue 2's measurement).

    python -m bench.worker_concurrency [--smoke] [--tasks 50] [--latency 0.1]

50 HandleWebhook tasks for 50 distinct connected integrations (getsms: the webhook is not one
it handles, so the task's only I/O is the tenant check, one REGOS `ConnectedIntegration/Get`)
against a FakeRegos answering every call after 100 ms, consumed by ONE
`celery -A workers.app worker -Q webhooks` (threads pool, production settings). Tasks are
published as the ingress publishes them (api.calls.plan_call + enqueue); warm-up tasks first
fetch the OAuth token and give every pool thread its first task. The worker under test is pinned
to core 0; Redis, the fake and this publisher to core 1 (issue 8's layout). Reported: wall time
from the first enqueue to the last SUCCESS (`date_done` of the result), versus serial
(50 x 100 ms) and the ideal ceil(50 / C) x 100 ms, and the worker's CPU per task (= per
event; these tasks send no message), first enqueue → last result.
Full mode repeats it with WORKER_CONCURRENCY 8, 32 (the default) and 64.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from redis.asyncio import Redis

from bench import common
from jobs.records import RESULT_KEY_PREFIX


async def _publish(redis_url: str, cids: list[str], tag: str) -> tuple[float, list[str]]:
    from api.calls import enqueue, plan_call
    from integrations.registry import resolve
    from jobs.publish import Publisher
    from schemas.envelope import TaskEnvelope
    from settings import Settings

    settings = Settings(redis_url=redis_url)
    redis = Redis.from_url(redis_url)
    publisher = Publisher(redis, record_ttl=settings.result_expires_seconds)
    _, spec = resolve("getsms")  # type: ignore[misc]
    plans = [
        plan_call(
            spec,
            TaskEnvelope(
                client="getsms",
                action="handle_webhook",
                connected_integration_id=cid,
                data={"action": "DocChequeClosed", "data": {"n": n}},
                event_id=f"{tag}-{n}",
                request_id=f"{tag}-{n}",
                received_at=time.time(),
            ),
            settings,
        )
        for n, cid in enumerate(cids)
    ]
    await redis.ping()
    started = time.time()
    published = await asyncio.gather(*(enqueue(publisher, p, settings) for p in plans))
    await redis.aclose()
    return started, [p.task_id for p in published]


def _wait(redis_url: str, task_ids: list[str], timeout: float) -> list[dict[str, Any]]:
    import redis as redis_sync

    r = redis_sync.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    while True:
        raws = r.mget([RESULT_KEY_PREFIX + t for t in task_ids])
        metas = [orjson.loads(x) if x else None for x in raws]
        if all(m and m.get("status") in ("SUCCESS", "FAILURE") for m in metas):
            return metas  # type: ignore[return-value]
        if time.monotonic() > deadline:
            done = sum(1 for m in metas if m and m.get("status") == "SUCCESS")
            raise RuntimeError(f"only {done}/{len(task_ids)} tasks finished in {timeout}s")
        time.sleep(0.005)


def _epoch(date_done: str) -> float:
    dt = datetime.fromisoformat(date_done)
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def measure(tasks: int, latency: float, concurrency: int | None, tmpdir: Path) -> dict[str, Any]:
    server = common.start_redis(tmpdir / f"redis-{concurrency}", core=1)
    c = concurrency or 32
    cids = [uuid.uuid4().hex for _ in range(tasks + c)]
    fakes = common.FakesProcess(
        {
            "regos": {
                "latency": latency,
                "integrations": [
                    {"cid": c, "key": "getsms", "settings": {"GETSMS_LOGIN": "b", "GETSMS_PASSWORD": "p"}} for c in cids
                ],
            }
        },
        tmpdir / f"fakes-{concurrency}.json",
        core=1,
    ).start()
    worker = None
    try:
        overrides = {"WORKER_CONCURRENCY": str(concurrency)} if concurrency else {}
        env = common.gateway_env(server.url, fakes.urls, **overrides)
        worker = common.start_worker(env, tmpdir / f"worker-{concurrency}.log", queues="webhooks", core=0)
        # warm-up: the OAuth token first, then one task per pool thread (Celery builds a result
        # backend per thread on its first task), so the run measures the steady state
        for warm_ids in (cids[:1], cids[1:c]):
            _, warm = asyncio.run(_publish(server.url, warm_ids, "warm"))
            _wait(server.url, warm, 30)
        cpu = common.CpuMeter({"worker": worker.pid}).start()
        started, ids = asyncio.run(_publish(server.url, cids[c:], "bench"))
        metas = _wait(server.url, ids, 60)
        worker_cpu = cpu.stop()["worker"]
        polled = time.time()
        states = [m["status"] for m in metas]
        ok_results = [m.get("result") for m in metas]
        last = max(_epoch(m["date_done"]) for m in metas if m.get("date_done"))
        stats = fakes.query()
    finally:
        if worker is not None:
            worker.stop()
        fakes.stop()
        server.stop()
    wall = last - started
    return {
        "worker_concurrency": c,
        "tasks": tasks,
        "latency_s": latency,
        "wall_s": round(wall, 3),
        "wall_polled_s": round(polled - started, 3),
        "serial_s": round(tasks * latency, 2),
        "ideal_s": round(math.ceil(tasks / c) * latency, 2),
        "ratio_to_ideal": round(wall / (math.ceil(tasks / c) * latency), 2),
        "states": {s: states.count(s) for s in set(states)},
        # each task is one webhook event and sends no message
        "worker_cpu_s": worker_cpu,
        "worker_cpu_ms_per_event": common.per_unit_ms(worker_cpu, tasks),
        "worker_cpu_ms_per_message": None,
        "result_sample": ok_results[0],
        "regos_calls": stats.get("regos", {}).get("by_method"),
    }


def _on_core_1(fn: Any, *args: Any) -> Any:
    """Run `fn` with this process (the publisher) on core 1, beside Redis and the fake."""
    saved = os.sched_getaffinity(0)
    if common.can_pin():
        os.sched_setaffinity(0, {1})
    try:
        return fn(*args)
    finally:
        os.sched_setaffinity(0, saved)


def run(smoke: bool = False, tasks: int = 50, latency: float = 0.1) -> dict[str, Any]:
    variants: list[int | None] = [None] if smoke else [None, 8, 64]
    runs = []
    problems = []
    with tempfile.TemporaryDirectory(prefix="bench-wc-") as tmp:
        for concurrency in variants:
            result = _on_core_1(measure, tasks, latency, concurrency, Path(tmp))
            runs.append(result)
            print(
                f"  worker_concurrency C={result['worker_concurrency']}: {tasks} x {latency * 1000:.0f} ms tasks "
                f"in {result['wall_s']:.3f}s (ideal {result['ideal_s']}s)",
                flush=True,
            )
            if result["states"] != {"SUCCESS": tasks}:
                problems.append(f"C={result['worker_concurrency']}: states {result['states']}")
    default = runs[0]
    return {
        "settings": {
            "worker": "1 x celery -A workers.app worker -Q webhooks, threads pool, production defaults",
            "task": "HandleWebhook (getsms, unsupported webhook) = 1 REGOS call (tenant check), distinct cids",
            "fake": f"FakeRegos latency {latency} s, own process",
            "enqueue": "api.calls.plan_call + enqueue (the ingress's publisher), all at once",
        },
        "figures": {"runs": runs},
        "targets": [
            common.target(
                f"{tasks} x {latency * 1000:.0f} ms tasks, 1 worker process, default concurrency",
                "well under 1 s (taken as < 0.75 s)",
                default["wall_s"],
                default["wall_s"] < 0.75,
            ),
        ],
        "problems": problems,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()
    result = run(args.smoke, args.tasks, args.latency)
    print(json.dumps(result["figures"], indent=2))
    print(common.write_result("worker_concurrency", result))


if __name__ == "__main__":
    main()
