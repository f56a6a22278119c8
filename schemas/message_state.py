"""One vocabulary for what became of a message, from the ledger's record to what REGOS is told.

Three layers, each with its own question, so each has its own Literal; a word means the same in
every layer it appears in:

- `EffectState`: the exactly-once record of one effect in Redis (integrations/ledger.py). Stored:
  renaming a state would strand the records written before the rename.
- `DeliveryStatus`: what one delivery run did with a message (the Telegram sender, and the
  notifier's per-event counts and chat reports).
- `MessageStatus`: what REGOS is told about one message of SendMessages (`MessageOutcome.status`),
  plus `Resolution`, how an earlier attempt's unknown outcome was settled.

The shared words: `sent` = the provider accepted it (REGOS's API calls that `accepted`);
`unknown` = a request may have left but its answer never came; `failed` = refused for good.
"""

from __future__ import annotations

from typing import Literal

# claimed: an attempt owns the effect, no request has left; started: the request is leaving or
# has left; sent: the provider accepted; unknown: the attempt ended without learning the outcome;
# inflight: what records written before `started` existed say (read as `started`).
EffectState = Literal["claimed", "started", "sent", "unknown", "inflight"]

# sent: sent in this run; already_sent: an earlier attempt's send was recorded, not sent again;
# unknown: its outcome cannot be learned and it is not sent again; failed: refused for good;
# deferred: not sent in this run, to be retried (rate limit, another attempt is sending it).
DeliveryStatus = Literal["sent", "already_sent", "unknown", "failed", "deferred"]
DELIVERED: frozenset[DeliveryStatus] = frozenset({"sent", "already_sent"})

MessageStatus = Literal["accepted", "failed", "unknown", "invalid"]
# reconciled: the provider already had it (not sent again); resent: sent again, may arrive twice.
Resolution = Literal["reconciled", "resent"]


def message_status(status: DeliveryStatus) -> MessageStatus:
    """What REGOS is told about a delivery: delivered → accepted, unknown stays unknown, the rest
    failed (a deferred one that reaches REGOS was never retried into a send)."""
    if status in DELIVERED:
        return "accepted"
    return "unknown" if status == "unknown" else "failed"
