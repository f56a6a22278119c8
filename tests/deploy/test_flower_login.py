"""The Flower login exactly as the README documents it works with the file `make run` writes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

import scripts.run
from scripts.local_redis import free_port
from tests.harness import ROOT


def _documented_flower_curl() -> str:
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("curl ") and ".run/flower_basic_auth" in line:
            return line.split("#")[0].strip()
    raise AssertionError("README.md documents no curl to Flower with .run/flower_basic_auth")


def _status(command: str, cwd: Path) -> str:
    written = subprocess.run(
        ["bash", "-c", command + ' -o /dev/null -w "%{http_code}"'], cwd=cwd, capture_output=True, text=True, timeout=20
    )
    return written.stdout


def test_readme_flower_curl_logs_in(redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scripts.run, "RUN_DIR", tmp_path / ".run")
    (tmp_path / ".run").mkdir()
    credentials = scripts.run._persisted_secret("flower_basic_auth", "admin:generated-password")  # as make run
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "FLOWER_BASIC_AUTH": credentials}
    flower = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers.app", "flower", f"--port={port}", "--address=127.0.0.1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx2.get(f"http://127.0.0.1:{port}/healthcheck", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            assert flower.poll() is None and time.monotonic() < deadline, "flower did not start"
            time.sleep(0.2)
        documented = re.sub(r"127\.0\.0\.1:5555", f"127.0.0.1:{port}", _documented_flower_curl())
        assert _status(documented, tmp_path) == "200"
        # What the README used to say (user admin, password = the file) is refused.
        assert (
            _status(f'curl -s -u "admin:$(cat .run/flower_basic_auth)" http://127.0.0.1:{port}/api/tasks', tmp_path)
            == "401"
        )
    finally:
        os.killpg(flower.pid, signal.SIGTERM)
        flower.wait(15)
