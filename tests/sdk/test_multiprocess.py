"""Token cache and rate limit shared by separate OS processes through Redis."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson

from settings import Settings
from tests.fakes.regos import FakeRegos

ROOT = Path(__file__).resolve().parents[2]


def run_children(settings: Settings, cid: str, calls: int, count: int = 2) -> list[float]:
    payload = {
        "settings": {
            **settings.model_dump(mode="json", exclude={"regos_oauth_client_secret", "gateway_secret_key"}),
            "regos_oauth_client_secret": settings.regos_oauth_client_secret.get_secret_value(),
        },
        "cid": cid,
        "calls": calls,
    }
    arg = orjson.dumps(payload).decode()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.sdk.child", arg], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        for _ in range(count)
    ]
    for proc in procs:  # wait until every child is connected, then start them together
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        results.append(orjson.loads(out.splitlines()[-1])["elapsed"])
    return results


def test_token_fetched_once_by_two_processes(fake: FakeRegos, make_settings: Callable[..., Settings], cid: str) -> None:
    run_children(make_settings(), cid, calls=3)
    assert fake.token_requests == 1
    assert len(fake.api_calls("DocCheque/Get")) == 6


def test_rate_limit_shared_by_two_processes(fake: FakeRegos, make_settings: Callable[..., Settings], cid: str) -> None:
    settings = make_settings(regos_rate_limit_per_second=5, regos_rate_limit_burst=5, regos_max_inline_wait_seconds=5)
    elapsed = run_children(settings, cid, calls=10)
    # 20 calls, 5 free at once, then 5/s: the last one cannot start before (20 - 5) / 5 = 3 s.
    assert max(elapsed) >= 2.8
    assert max(elapsed) < 5
    assert len(fake.api_calls("DocCheque/Get")) == 20
