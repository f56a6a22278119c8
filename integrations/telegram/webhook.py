"""What Telegram accepts in `setWebhook`, checked before anything is sent to it.

Source: https://core.telegram.org/bots/api#setwebhook
- `url`: "HTTPS URL to send updates to"; "Ports currently supported for webhooks: 443, 80, 88, 8443."
- `secret_token`: "1-256 characters. Only characters A-Z, a-z, 0-9, _ and - are allowed."

A `PUBLIC_BASE_URL` breaking these rules would make Telegram refuse `setWebhook` (or, worse,
be accepted by a proxy and never reached); `Connect` refuses it first and says why.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

WEBHOOK_PORTS = (443, 80, 88, 8443)
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


def webhook_url_problem(url: str) -> str | None:
    """Why Telegram would refuse `url` as a webhook, or None when it is acceptable."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"{url!r} is not a valid URL"
    if parts.scheme.lower() != "https":
        return f"Telegram accepts only HTTPS webhook URLs, and {url!r} is not https"
    if not parts.hostname:
        return f"{url!r} has no host name"
    if port is not None and port not in WEBHOOK_PORTS:
        allowed = ", ".join(str(p) for p in WEBHOOK_PORTS)
        return f"Telegram accepts webhooks only on ports {allowed}, and {url!r} uses port {port}"
    return None


def secret_token_problem(token: str) -> str | None:
    """Why Telegram would refuse `token` as `secret_token` (never includes the token)."""
    if _SECRET.fullmatch(token):
        return None
    return f"the webhook secret token must be 1-256 characters of A-Z a-z 0-9 _ - (got {len(token)} characters)"
