"""A tiny real HTTP server on 127.0.0.1 that fakes an external system.

Tests and benchmarks talk to fakes over the wire, exactly as production talks to REGOS and the
providers. A fake subclasses `FakeServer`, implements `handle(request) -> Reply`, and gets:
request recording, scripted faults (`fail_next`), a fixed latency, and start/stop in a thread.
A fake names the variable that points the gateway at it (`base_url_env`, the integration's
`base_url_env`): `tests/harness.py` sets it to the fake's `base_url` for every process of the stack.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-serialisable, or bytes sent as-is (b"" = an empty body)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # extra seconds before answering (a hanging upstream: use a large value)
    content_type: str = "application/json"  # any other for a bytes body (text/plain, text/html, ...)


@dataclass
class Fault:
    reply: Reply
    path_contains: str = ""
    remaining: int = 1


class FakeServer:
    """Base for fakes. Thread-safe: handlers run on one thread per connection."""

    base_url_env: ClassVar[str | None] = None  # e.g. "ESKIZ_BASE_URL"; None: the stack sets nothing

    def __init__(self, latency: float = 0.0, port: int = 0) -> None:
        self.latency = latency
        self._port = port
        self.requests: list[Recorded] = []
        self._faults: deque[Fault] = deque()
        self.lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None

    # --- to override ---------------------------------------------------------------------
    def handle(self, request: Recorded) -> Reply:
        raise NotImplementedError

    # --- fault injection -----------------------------------------------------------------
    def fail_next(
        self,
        times: int = 1,
        status: int = 500,
        body: Any = None,
        *,
        path_contains: str = "",
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        """The next `times` requests whose path contains `path_contains` get this reply."""
        with self.lock:
            self._faults.append(
                Fault(
                    Reply(status, body if body is not None else {"error": "injected"}, headers or {}, delay),
                    path_contains,
                    times,
                )
            )

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def _take_fault(self, path: str) -> Reply | None:
        with self.lock:
            for fault in self._faults:
                if fault.path_contains in path:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault.reply
        return None

    # --- recording -----------------------------------------------------------------------
    def calls(self, path_contains: str = "") -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if path_contains in r.path]

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self._faults.clear()

    # --- lifecycle -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        """What `base_url_env` is set to: the root URL; override when the provider's base has a path."""
        return self.url

    def start(self) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args: Any) -> None:  # quiet: tests read `requests` instead
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Recorded(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with fake.lock:
                    fake.requests.append(request)
                reply = fake._take_fault(parts.path) or fake.handle(request)
                wait = fake.latency + reply.delay
                if wait:
                    time.sleep(wait)
                payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    headers = {"Content-Type": reply.content_type, **reply.headers}
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout under test): nothing to answer

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 1024

        self._httpd = Server(("127.0.0.1", self._port), Handler)
        threading.Thread(target=self._httpd.serve_forever, name=type(self).__name__, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
