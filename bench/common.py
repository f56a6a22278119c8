"""Shared plumbing of the benchmarks: machine facts, pinning, Redis, fakes, API and worker
processes, the load generator and an RSS sampler. Everything listens on 127.0.0.1 only.

Process layout (2-core machine, as in shared/docs/performance-notes.md):
  core 0: the server under test (uvicorn) when measuring the ingress alone
  core 1: Redis and the load generator
End-to-end runs leave every process unpinned (they share both cores, as in production).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import redis as redis_sync

from scripts.local_redis import LocalRedis, free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
OPERATOR_TOKEN = "bench-operator-token"
SECRET_KEY = "bench-gateway-secret-key-0123456789abcdef"
PY = sys.executable

# tests/harness.stack_env shortens these for tests; benchmarks run at production defaults.
TEST_ONLY_SETTINGS = (
    "VISIBILITY_TIMEOUT_SECONDS",
    "TASK_TIME_LIMIT_SECONDS",
    "RETRY_BACKOFF_BASE_SECONDS",
    "RETRY_BACKOFF_MAX_SECONDS",
    "REGOS_RATE_LIMIT_PER_SECOND",
    "REGOS_RATE_LIMIT_BURST",
    "WORKER_CONCURRENCY",
    "REGOS_TIMEOUT_SECONDS",
    "PROVIDER_TIMEOUT_SECONDS",
)


# --- machine ---------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "taskset": bool(can_pin()),
    }


def can_pin() -> bool:
    return shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2


def pinned(cmd: list[str], core: int | None) -> list[str]:
    """Prefix `cmd` with `taskset -c core` where possible; unchanged otherwise."""
    if core is None or not can_pin():
        return cmd
    return ["taskset", "-c", str(core), *cmd]


def pin_pid(pid: int, core: int | None) -> None:
    if core is None or not can_pin():
        return
    subprocess.run(["taskset", "-a", "-pc", str(core), str(pid)], check=False, capture_output=True)


# --- Redis -----------------------------------------------------------------------------------
def start_redis(data_dir: Path, core: int | None = None) -> LocalRedis:
    server = LocalRedis(data_dir).start()
    assert server.process is not None
    pin_pid(server.process.pid, core)
    return server


def redis_used_memory(url: str) -> int:
    return int(redis_sync.Redis.from_url(url).info("memory")["used_memory"])


# --- fakes in their own processes --------------------------------------------------------------
@dataclass
class FakesProcess:
    """`python -m bench.fakes_server SPEC`: fakes of REGOS/providers outside the load generator's
    and the workers' processes (they would compete for the GIL). `query()` asks for counts."""

    spec: dict[str, Any]
    spec_path: Path
    core: int | None = None
    process: subprocess.Popen[str] | None = None
    urls: dict[str, Any] = field(default_factory=dict)

    def start(self, timeout: float = 60.0) -> FakesProcess:
        self.spec_path.write_text(json.dumps(self.spec))
        self.process = subprocess.Popen(
            pinned([PY, "-m", "bench.fakes_server", str(self.spec_path)], self.core),
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("fakes server did not start")
        self.urls = json.loads(line)
        return self

    def query(self, command: str = "stats") -> dict[str, Any]:
        assert self.process is not None and self.process.stdin and self.process.stdout
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.write("quit\n")
                self.process.stdin.flush()
                self.process.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


def gateway_env(redis_url: str, urls: dict[str, Any], **overrides: str) -> dict[str, str]:
    """Env of the API and workers: tests.harness.stack_env minus its test-only shortenings,
    i.e. production defaults (rate limits, concurrency, timeouts) unless named in `overrides`."""
    from tests.harness import stack_env

    regos = urls["regos"]
    fakes: dict[str, Any] = {
        "regos": SimpleNamespace(
            url=regos["url"], client_id=regos["client_id"], client_secret=regos["client_secret"], base_url_env=None
        )
    }
    # As the fakes declare them (`FakeServer.base_url_env`, `base_url`): GetSMS's base has a path.
    variables = {
        "getsms": ("GETSMS_BASE_URL", "/smsgateway/"),
        "eskiz": ("ESKIZ_BASE_URL", ""),
        "telegram": ("TELEGRAM_API_BASE_URL", ""),
    }
    for name, (variable, path) in variables.items():
        if name in urls:
            fakes[name] = SimpleNamespace(base_url_env=variable, base_url=urls[name]["url"] + path)
    env = stack_env(redis_url, fakes)
    for key in TEST_ONLY_SETTINGS:
        env.pop(key, None)
    env.update(
        ENVIRONMENT="development",
        OPERATOR_TOKEN=OPERATOR_TOKEN,
        GATEWAY_SECRET_KEY=SECRET_KEY,
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def clean_os_env() -> dict[str, str]:
    """os.environ without gateway settings a developer may have exported (they would leak in)."""
    from settings import Settings

    names = {n.upper() for n in Settings.model_fields} | {"ENV_FILE"}
    return {k: v for k, v in os.environ.items() if k.upper() not in names}


# --- API and workers ---------------------------------------------------------------------------
@dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 20.0) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
            except ProcessLookupError:
                pass

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""


def _spawn(name: str, cmd: list[str], env: dict[str, str], log_path: Path) -> Proc:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab")
    process = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**clean_os_env(), **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    return Proc(name, process, log_path)


def start_api(
    env: dict[str, str],
    log_path: Path,
    *,
    app: str = "bench.bare_app:app",
    core: int | None = None,
    loop: str = "uvloop",
    http: str = "httptools",
    timeout: float = 30.0,
) -> tuple[Proc, int]:
    """uvicorn as `make run` starts it (1 worker, uvloop, httptools, no access log)."""
    port = free_port()
    cmd = [
        PY,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        loop,
        "--http",
        http,
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    proc = _spawn("api", pinned(cmd, core), env, log_path)
    deadline = time.monotonic() + timeout
    import httpx2

    while True:
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc, port
        except httpx2.HTTPError:
            pass
        if proc.process.poll() is not None or time.monotonic() > deadline:
            proc.stop()
            raise RuntimeError(f"API did not start:\n{proc.log_tail()}")
        time.sleep(0.1)


def start_worker(
    env: dict[str, str], log_path: Path, *, queues: str | None = None, core: int | None = None, timeout: float = 60.0
) -> Proc:
    """`celery -A workers.app worker` (threads pool, WORKER_CONCURRENCY from env/default)."""
    from tests.harness import worker_command

    name = f"bench-{uuid.uuid4().hex[:6]}"
    cmd = worker_command(name, queues)
    offset = log_path.stat().st_size if log_path.exists() else 0
    proc = _spawn(f"worker-{name}", pinned(cmd, core), env, log_path)
    deadline = time.monotonic() + timeout
    while b" ready." not in log_path.read_bytes()[offset:]:
        if proc.process.poll() is not None or time.monotonic() > deadline:
            proc.stop()
            raise RuntimeError(f"worker did not start:\n{proc.log_tail()}")
        time.sleep(0.1)
    return proc


# --- load generator ----------------------------------------------------------------------------
def load(
    port: int,
    path: str,
    bodies_file: Path,
    *,
    concurrency: int,
    warmup: int = 0,
    core: int | None = 1,
    headers: dict[str, str] | None = None,
    expect_task_id: bool = True,
    timeout: float = 600.0,
) -> dict[str, Any]:
    """Run bench/loadgen.py in its own process (pinned to `core`) and return its JSON report."""
    cmd = [
        PY,
        "-m",
        "bench.loadgen",
        "--port",
        str(port),
        "--path",
        path,
        "--bodies",
        str(bodies_file),
        "--concurrency",
        str(concurrency),
        "--warmup",
        str(warmup),
    ]
    if expect_task_id:
        cmd.append("--expect-task-id")
    for k, v in (headers or {}).items():
        cmd += ["--header", f"{k}: {v}"]
    out = subprocess.run(pinned(cmd, core), cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def write_bodies(path: Path, bodies: list[dict[str, Any]]) -> Path:
    import orjson

    path.write_bytes(b"\n".join(orjson.dumps(b) for b in bodies) + b"\n")
    return path


# --- resources ---------------------------------------------------------------------------------
class RssSampler:
    """Peak RSS (MiB) per named process tree, sampled every `interval` seconds in a thread."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.pids: dict[str, int] = {}
        self.peak: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def watch(self, name: str, pid: int) -> None:
        self.pids[name] = pid

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, pid in list(self.pids.items()):
                try:
                    root = psutil.Process(pid)
                    rss = root.memory_info().rss + sum(
                        c.memory_info().rss for c in root.children(recursive=True) if c.name() != "taskset"
                    )
                except psutil.Error:
                    continue
                mib = rss / 2**20
                if mib > self.peak.get(name, 0.0):
                    self.peak[name] = mib
            self._stop.wait(self.interval)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)
        return {k: round(v, 1) for k, v in self.peak.items()}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process tree: the process, its live descendants, and the
    children it has already reaped. `taskset` execs the command, so a pinned pid is the process."""
    try:
        root = psutil.Process(pid)
        times = root.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in root.children(recursive=True):
            try:
                t = child.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                continue
        return total
    except psutil.Error:
        return 0.0


class CpuMeter:
    """CPU seconds spent by named process trees between `start()` and `stop()`.

    Started after warm-up, so worker figures are the steady-state cost of the measured work
    (idle polling in the window is included, which is small and honest)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.at_start: dict[str, float] = {}

    def start(self) -> CpuMeter:
        self.at_start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        return self

    def stop(self) -> dict[str, float]:
        return {name: round(cpu_seconds(pid) - self.at_start[name], 3) for name, pid in self.pids.items()}


def per_unit_ms(cpu_s: float, units: int) -> float | None:
    return round(cpu_s * 1000 / units, 3) if units else None


# --- results -----------------------------------------------------------------------------------
def target(what: str, goal: str, value: Any, met: bool | None) -> dict[str, Any]:
    return {"what": what, "target": goal, "value": value, "met": met}


def write_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"name": name, "at": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": machine(), **result}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    values = sorted(values)

    def p(q: float) -> float:
        return values[min(len(values) - 1, round(q * (len(values) - 1)))]

    return {"p50": p(0.50), "p90": p(0.90), "p99": p(0.99), "max": values[-1]}
