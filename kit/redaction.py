"""Secrets out of text that leaves the process: a provider's error text, a check's answer.

One meaning, one name: `redact` removes the secrets a caller knows (a password, a token it sent)
and any Telegram bot token in a Bot API URL (`/bot123:ABC/` → `/bot***/`), which a transport
error may echo. (Recipients are masked, not redacted: `schemas.envelope.mask_recipient`; log
lines are redacted once more by `logconfig`.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_BOT_IN_URL = re.compile(r"/bot[^/\s\"']+/")
_SHORTEST_SECRET = 3  # shorter values would blank out ordinary words


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    for secret in secrets:
        if secret and len(secret) >= _SHORTEST_SECRET:
            text = text.replace(secret, "***")
    return _BOT_IN_URL.sub("/bot***/", text)


def redacted_line(text: str, secrets: Iterable[str | None] = (), *, limit: int) -> str:
    """`redact`, on one line (white space folded), cut to `limit` characters with `…`."""
    text = " ".join(redact(text, secrets).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
