"""Operator observability: metrics, queue report, Flower. Shared helpers of these tests."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2
from prometheus_client.parser import text_string_to_metric_families

from scripts.local_redis import free_port
from tests.harness import OPERATOR_TOKEN, ROOT

FLOWER_USER, FLOWER_PASSWORD = "ops", "flower-test-pass"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


def basic_auth(user: str = FLOWER_USER, password: str = FLOWER_PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text (None when absent); labels must all match."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return None


@dataclass
class FlowerProcess:
    """`celery -A workers.app flower` on a free port, basic auth from FLOWER_BASIC_AUTH."""

    env: dict[str, str]
    log_path: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> FlowerProcess:
        self.port = self.port or free_port()
        env = {**os.environ, **self.env, "FLOWER_BASIC_AUTH": f"{FLOWER_USER}:{FLOWER_PASSWORD}"}
        args = [sys.executable, "-m", "celery", "-A", "workers.app", "flower", f"--port={self.port}"]
        args.append("--address=127.0.0.1")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx2.get(self.url + "/healthcheck", timeout=1).status_code == 200:
                    return self
            except httpx2.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"flower did not start:\n{self.log()[-3000:]}")
            time.sleep(0.2)

    def wait_for_events(self, worker_prefix: str, timeout: float = 30.0) -> None:
        """Until Flower's event receiver has heard a worker's heartbeat: events sent before it
        subscribed are lost (Redis pub/sub), so a test must not make its call earlier."""
        deadline = time.monotonic() + timeout
        while True:
            text = httpx2.get(self.url + "/metrics", headers=basic_auth(), timeout=2).text
            for line in text.splitlines():  # set by worker-online / worker-heartbeat events
                if line.startswith(f'flower_worker_online{{worker="{worker_prefix}') and line.endswith(" 1.0"):
                    return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"flower saw no heartbeat of {worker_prefix}*:\n{text[-2000:]}\n{self.log()[-2000:]}"
                )
            time.sleep(0.3)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
