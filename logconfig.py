"""Logging for every process: one key=value line per event, correlated, with secrets masked.

`bind(...)` puts `request_id`, `task_id`, `client`, `connected_integration_id` and `action`
into a context variable that every following log line of that request or task carries.
`SecretMaskFilter` is the last line of defence: bearer tokens, bot tokens inside Telegram URLs,
`password=` form fields and any value passed to `register_secret` are replaced by `***`.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("log_context", default={})  # noqa: B039
_known_secrets: set[str] = set()
_PATTERNS = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1***"),
    (re.compile(r"/bot\d+:[A-Za-z0-9_-]+"), "/bot***"),
    (re.compile(r"(?i)((?:password|secret|token|client_secret)[\"']?\s*[=:]\s*[\"']?)[^\s&\"',}]+"), r"\1***"),
]
# Every pattern above needs one of these words: most lines (the ingress's "queued" line on every
# request) have none, and one search is cheaper than three substitutions (perf_findings §3a).
_HINT = re.compile(r"(?i)bearer|/bot\d|password|secret|token")
FIELDS = ("request_id", "task_id", "client", "connected_integration_id", "action")


def register_secret(value: str) -> None:
    """Mask this exact value in every later log line (settings values, provider tokens)."""
    if value and len(value) >= 6:
        _known_secrets.add(value)


def mask(text: str) -> str:
    if _HINT.search(text):
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


@contextmanager
def bind(**fields: str | None) -> Iterator[None]:
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v}})
    try:
        yield
    finally:
        _context.reset(token)


class SecretMaskFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask(record.getMessage())
        record.args = None
        return True


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        parts = [f"ts={ts}", f"level={record.levelname}", f"logger={record.name}", f'msg="{record.getMessage()}"']
        context = _context.get()
        parts += [f"{name}={context[name]}" for name in FIELDS if name in context]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + mask(self.formatException(record.exc_info))
        return line


def configure_logging(level: str | None = None) -> None:
    from settings import get_settings

    root = logging.getLogger()
    if any(isinstance(h.formatter, KeyValueFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    handler.addFilter(SecretMaskFilter())
    root.addHandler(handler)
    root.setLevel((level or get_settings().log_level).upper())
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # URLs may carry bot tokens; the SDK logs calls itself
