"""Run the benchmarks: `python -m bench.run [--smoke] [--only ingress,worker_concurrency,...]`.

Writes bench/results/<name>.json (smoke runs: bench/results/smoke/<name>.json, so CI never
overwrites real figures) plus resources.json, and prints one table: machine, Python, settings,
figures, and each target with met / NOT MET. Exit status is non-zero only on real breakage
(an exception, a non-200 answer, a lost or duplicated effect) — a missed target is reported,
not failed, because figures on shared CI machines are noise.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from typing import Any

from bench import common

BENCHES = ("ingress", "worker_concurrency", "bulk_sms", "email_bulk", "end_to_end")


def _summary(name: str, result: dict[str, Any]) -> list[str]:
    f = result.get("figures", {})
    lines: list[str] = []
    if result.get("skipped"):
        return [f"skipped: {result['skipped']}"]
    if result.get("error"):  # printed by the caller; there are no figures to show
        return []
    if name == "ingress":
        lines.append(
            f"{'conc':>4} {'webhook req/s':>13} {'p50':>6} {'p90':>6} {'p99':>6} {'max':>7} {'cpu':>5} | "
            f"{'minimal req/s':>13} {'p50':>6} {'p99':>6} {'cpu':>5} | {'bare req/s':>10} {'p50':>6} {'p99':>6} | "
            f"share of minimal / bare  (cpu: server ms per request)"
        )
        for r in f["runs"]:
            h, m, b = r["handle_webhook_latency_ms"], r["minimal_latency_ms"], r["bare_latency_ms"]
            lines.append(
                f"{r['concurrency']:>4} {r['handle_webhook_rps']:>13.0f} {h['p50']:>6.2f} {h['p90']:>6.1f} "
                f"{h['p99']:>6.1f} {h['max']:>7.1f} {r['handle_webhook_cpu_ms']:>5.2f} | {r['minimal_rps']:>13.0f} "
                f"{m['p50']:>6.2f} {m['p99']:>6.1f} {r['minimal_cpu_ms']:>5.2f} | {r['bare_rps']:>10.0f} "
                f"{b['p50']:>6.2f} {b['p99']:>6.1f} | {r['ratio_to_minimal']:.2f} / {r['ratio_to_bare']:.2f}"
            )
        m = f.get("redis_memory") or {}
        if m:
            lines.append(
                f"Redis memory per queued webhook task: {m['bytes_per_queued_task']} B "
                f"({m['tasks_queued']} queued, no consumer)"
            )
    elif name == "worker_concurrency":
        for r in f["runs"]:
            lines.append(
                f"WORKER_CONCURRENCY={r['worker_concurrency']:<3} {r['tasks']} tasks x "
                f"{r['latency_s'] * 1000:.0f} ms: {r['wall_s']:.3f} s (ideal {r['ideal_s']} s, "
                f"serial {r['serial_s']} s); worker CPU {r['worker_cpu_ms_per_event']} ms/event"
            )
    elif name == "bulk_sms":
        for r in f["runs"]:
            lines.append(
                f"{r['provider']:>9}: {r['messages']} msgs, {r['chunks']} chunks of {r['chunk_size']}, "
                f"C={r['worker_concurrency']}: {r['wall_s']:.2f} s = {r['messages_per_s']:.0f} msg/s; "
                f"ideal {r['ideal_s']:.2f} s (x{r['ratio_to_ideal']}); delivered {r['provider_delivered']}, "
                f"duplicates {r['duplicates']}; worker CPU {r['worker_cpu_ms_per_event']} ms/event, "
                f"{r['worker_cpu_ms_per_message']} ms/message, {r['worker_cpu_ms_per_chunk']} ms/chunk"
            )
    elif name == "end_to_end":
        for r in f["runs"]:
            took = f"{r['delivered_s']} s" if r["delivered_s"] else f"INCOMPLETE after {r['gave_up_after_s']} s"
            lines.append(
                f"workers={r['workers']}: {r['events']} events / {r['integrations']} integrations → "
                f"{r['telegram_messages']}/{r['expected_messages']} messages in {took} "
                f"({r['events_per_s']} ev/s; ingress {r['ingress_rps']:.0f} req/s); lost {r['lost']}, "
                f"doubled {r['doubled']}"
            )
            m = r["redis_memory"]
            lines.append(
                f"  worker CPU {r['worker_cpu_ms_per_event']} ms/event, {r['worker_cpu_ms_per_message']} ms/message; "
                f"API CPU {r['api_cpu_ms_per_request']} ms/request; Redis after the tasks ran: "
                f"{m['bytes_per_unit']} B/webhook ({m['long_lived_bytes_per_unit']} B in keys living > 1 h)"
                + ("" if m["settled"] else " [queues not drained]")
            )
            top = list(r["redis_commands_per_event"].items())[:8]
            lines.append("  Redis commands per event: " + ", ".join(f"{k} {v}" for k, v in top))
            for row in m["by_pattern"][:6]:
                lines.append(
                    f"    {row['pattern'][:60]:<60} {row['keys']:>6} keys {row['bytes_per_unit']:>7} B/webhook "
                    f"TTL {row['ttl_s'][0]}..{row['ttl_s'][1]} s"
                )
    peaks = f.get("peak_rss_mib") or {}
    if peaks:
        lines.append("peak RSS MiB: " + ", ".join(f"{k} {v}" for k, v in peaks.items()))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny counts (< 60 s): keeps the scripts working")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(BENCHES)}")
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",")] if args.only else list(BENCHES)
    unknown = set(names) - set(BENCHES)
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(sorted(unknown))}; choose from {', '.join(BENCHES)}")
    if args.smoke:
        common.RESULTS = common.RESULTS / "smoke"

    machine = common.machine()
    started = time.monotonic()
    results: dict[str, dict[str, Any]] = {}
    broken: list[str] = []
    for name in names:
        print(f"== {name}{' (smoke)' if args.smoke else ''}", flush=True)
        t0 = time.monotonic()
        try:
            result = importlib.import_module(f"bench.{name}").run(smoke=args.smoke)
        except Exception as exc:  # a benchmark that cannot run is breakage
            traceback.print_exc()
            result = {"error": f"{type(exc).__name__}: {exc}", "figures": {}, "targets": [], "problems": [str(exc)]}
        result["smoke"] = args.smoke
        result["duration_s"] = round(time.monotonic() - t0, 1)
        results[name] = result
        common.write_result(name, result)
        broken += [f"{name}: {p}" for p in result.get("problems", [])]

    resources = {
        name: {
            "peak_rss_mib": r.get("figures", {}).get("peak_rss_mib")
            or {
                f"workers={x['workers']}": x["peak_rss_mib"]
                for x in r.get("figures", {}).get("runs", [])
                if "peak_rss_mib" in x
            }
            or None
        }
        for name, r in results.items()
    }
    if "ingress" in results:
        resources["redis_memory_per_queued_task"] = results["ingress"].get("figures", {}).get("redis_memory")
    common.write_result("resources", {"smoke": args.smoke, "figures": resources})

    width = 100
    print("\n" + "=" * width)
    print(f"REGOS gateway benchmarks{' — SMOKE (tiny counts; figures meaningless)' if args.smoke else ''}")
    print(
        f"machine: {machine['cpu']}, {machine['cores']} cores, {machine['ram_gib']} GiB RAM; "
        f"Python {machine['python']}; pinning: {'taskset' if machine['taskset'] else 'none'}"
    )
    for name, result in results.items():
        print("-" * width)
        print(f"{name}  ({result['duration_s']} s)")
        for key, value in (result.get("settings") or {}).items():
            print(f"  · {key}: {value}")
        if result.get("error"):
            print(f"  ERROR: {result['error']}")
        for line in _summary(name, result):
            print(f"  {line}")
        for t in result.get("targets", []):
            verdict = "n/a" if t["met"] is None else ("met" if t["met"] else "NOT MET")
            print(f"  target: {t['what']}: {t['target']} → {t['value']}  [{verdict}]")
        for p in result.get("problems", []):
            print(f"  BROKEN: {p}")
    print("=" * width)
    print(f"total {time.monotonic() - started:.0f} s; results in {common.RESULTS}/")
    if broken:
        print("breakage:\n  " + "\n  ".join(broken))
        sys.exit(1)


if __name__ == "__main__":
    main()
