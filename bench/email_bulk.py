"""Bulk e-mail through the whole stack: `POST /clients/email_sender` SendMessages → API → Redis
→ a real `celery -A workers.app worker -Q messages` (default settings) → a local SMTP server
(aiosmtpd, plain, AUTH, in this process's thread) that accepts at once.

    python -m bench.email_bulk [--smoke] [--messages N] [--concurrency C]

One warm-up SendMessages of 1 message (OAuth token, settings cache), then one SendMessages of N
distinct e-mails; wall time from the request to `GET /tasks/{id}` showing the final result,
messages/s. Exactly-once: every Message-ID arrived at the SMTP server once.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import uuid
import warnings
from pathlib import Path
from typing import Any

import httpx2

from bench import common
from bench.bulk_sms import _send_and_wait
from tests.fakes.smtp import FakeSmtp

CHUNK = 100  # EmailSenderIntegration.chunk_size (not imported: that would load the worker's code)
CREDENTIALS = ("bench@example.com", "bench-pw")


def run(smoke: bool = False, messages: int | None = None, concurrency: int | None = None) -> dict[str, Any]:
    n = messages or (200 if smoke else 10_000)
    warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")  # loopback only
    runs: list[dict[str, Any]] = []
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-email-") as tmp:
        tmpdir = Path(tmp)
        server = common.start_redis(tmpdir / "redis")
        smtp = FakeSmtp(credentials=CREDENTIALS).start()
        cid = uuid.uuid4().hex
        settings = {
            "SMTP_HOST": smtp.host,
            "SMTP_PORT": str(smtp.port),
            "SMTP_USERNAME": CREDENTIALS[0],
            "SMTP_PASSWORD": CREDENTIALS[1],
            "SMTP_FROM": "Bench <bench@example.com>",
            "SMTP_SECURITY": "none",
        }
        regos = common.FakesProcess(
            {"regos": {"latency": 0.02, "integrations": [{"cid": cid, "key": "email_sender", "settings": settings}]}},
            tmpdir / "regos.json",
        ).start()
        overrides = {"WORKER_CONCURRENCY": str(concurrency)} if concurrency else {}
        env = common.gateway_env(server.url, regos.urls, **overrides)
        sampler = common.RssSampler().start()
        api = worker = None
        try:
            api, port = common.start_api(env, tmpdir / "api.log", app="api.app:app")
            worker = common.start_worker(env, tmpdir / "worker.log", queues="messages")
            sampler.watch("api", api.pid)
            sampler.watch("worker_messages", worker.pid)
            with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                _send_and_wait(
                    client, "email_sender", cid, [{"recipient": "warm-up@example.com", "message": "warm-up"}], 60
                )
                before = len(smtp.delivered)
                batch = [
                    {"recipient": f"buyer{i}@example.com", "message": f"Bench {i}", "subject": "Aksiya"}
                    for i in range(n)
                ]
                cpu = common.CpuMeter({"worker": worker.pid, "api": api.pid}).start()
                wall, view = _send_and_wait(client, "email_sender", cid, batch, 600)
                cpu_s = cpu.stop()
            ids = [d.message_id for d in smtp.delivered[before:]]
            result = view.get("result") if isinstance(view.get("result"), dict) else {}
            row = {
                "messages": n,
                "chunk_size": CHUNK,
                "chunks": -(-n // CHUNK),
                "worker_concurrency": int(env.get("WORKER_CONCURRENCY", "32")),
                "wall_s": round(wall, 3),
                "messages_per_s": round(n / wall, 1),
                "worker_cpu_ms_per_message": common.per_unit_ms(cpu_s["worker"], n),
                "state": view.get("state"),
                "result_accepted": result.get("accepted"),
                "smtp_delivered": len(ids),
                "smtp_distinct": len(set(ids)),
                "duplicates": len(ids) - len(set(ids)),
            }
            runs.append(row)
            print(
                f"  email_bulk: {n} e-mails in {row['wall_s']:.2f}s = {row['messages_per_s']:.0f} msg/s; "
                f"worker CPU {row['worker_cpu_ms_per_message']} ms/msg; delivered {row['smtp_delivered']}, "
                f"duplicates {row['duplicates']}",
                flush=True,
            )
            if row["state"] != "SUCCESS" or row["smtp_distinct"] != n or row["duplicates"]:
                problems.append(
                    f"email_sender: state {row['state']}, delivered {row['smtp_delivered']}, "
                    f"distinct {row['smtp_distinct']}, duplicates {row['duplicates']}"
                )
        finally:
            peaks = sampler.stop()
            for proc in (worker, api):
                if proc is not None:
                    proc.stop()
            regos.stop()
            smtp.stop()
            server.stop()
    return {
        "settings": {
            "api": "uvicorn api.app:app, 1 worker",
            "worker": "1 x celery worker -Q messages, threads pool, production defaults",
            "smtp": "aiosmtpd on loopback, plain + AUTH PLAIN, answers at once; REGOS fake 20 ms",
            "measured": "POST SendMessages → GET /tasks/{id} SUCCESS (after a 1-message warm-up)",
        },
        "figures": {"runs": runs, "peak_rss_mib": peaks},
        "targets": [common.target(f"{n} e-mails, local SMTP, defaults", "reported", r["wall_s"], None) for r in runs],
        "problems": problems,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="200 e-mails: a quick check")
    parser.add_argument("--messages", type=int)
    parser.add_argument("--concurrency", type=int, help="WORKER_CONCURRENCY (default: the setting's default, 32)")
    args = parser.parse_args()
    result = run(args.smoke, args.messages, args.concurrency)
    print(json.dumps(result["figures"], indent=2))
    print(common.write_result("email_bulk", result))


if __name__ == "__main__":
    main()
