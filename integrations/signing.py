"""Per-connection secrets derived from GATEWAY_SECRET_KEY, so they are never stored.

Used where a provider must prove a callback is genuine: the integration registers the derived
token with the provider, and the ingress recomputes it to check each callback without I/O.
Pure functions on purpose: the ingress imports this module, and it must stay free of any
REGOS or provider client.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def derive_token(secret_key: bytes, purpose: str, connected_integration_id: str) -> str:
    """A 43-character token of `A-Z a-z 0-9 _ -` (fits Telegram's secret_token rules)."""
    digest = hmac.new(secret_key, f"{purpose}:{connected_integration_id.lower()}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_matches(secret_key: bytes, purpose: str, connected_integration_id: str, presented: str | None) -> bool:
    """Constant-time check of a token presented by a caller."""
    if not presented:
        return False
    expected = derive_token(secret_key, purpose, connected_integration_id)
    return hmac.compare_digest(expected.encode(), presented.encode())
