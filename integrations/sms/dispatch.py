"""The exactly-once send of one chunk, shared by the SMS integrations.

For each message of the chunk, `EffectLedger` is claimed with `effect_id(chunk_id, message)`:

- found `sent`      → outcome `accepted` (an earlier attempt delivered it; not resent);
- found `inflight` / `unknown` → outcome `unknown` (an earlier attempt sent the request and never
  learnt the answer, or is still running; not resent);
- claimed now       → part of the one provider call made by this attempt.

The provider call ends one of four ways:

- 2xx → `mark_sent`, outcomes `accepted`;
- the request never left (connect error) or the provider answered 5xx / 429 / 4xx
  → `release` (the provider did not act, a later attempt may send) and raise
  `TransientError` (5xx, 429 with its Retry-After, transport) or `PermanentError` (other 4xx);
- the request left but no answer came (read timeout, dropped connection) → `mark_unknown`,
  outcomes `unknown`, no error raised. Why not resend: the provider may have accepted and
  charged for the SMS, so a resend risks a second paid SMS to the same person; an unknown is
  the honest answer, and for Eskiz the delivery report (keyed by our `user_sms_id`) still
  tells later whether it went out (see `integrations.sms.status`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from redis.asyncio import Redis

from integrations.errors import IntegrationError, PermanentError, TransientError
from integrations.ledger import EffectLedger
from integrations.messages import mask
from integrations.sms.http import NotSent, OutcomeUnknown, ProviderHTTPError
from integrations.sms.segments import count_segments
from schemas.envelope import MessageOutcome, OutgoingMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pending:
    message: OutgoingMessage
    effect_id: str


@dataclass
class ChunkResult:
    outcomes: list[MessageOutcome]
    accepted: list[Pending] = field(default_factory=list)  # sent by this attempt
    unknown: list[Pending] = field(default_factory=list)  # outcome lost in this attempt
    request_id: str | None = None


def outcome(message: OutgoingMessage, status: str, provider_id: str | None = None, error: str | None = None):
    return MessageOutcome(
        index=message.index,
        recipient=mask(message.recipient),
        status=status,
        segments=count_segments(message.message),
        provider_id=provider_id,
        error=error,
    )


async def send_exactly_once(
    *,
    redis: Redis,
    ttl: int,
    label: str,
    chunk_id: str,
    messages: list[OutgoingMessage],
    effect_id: Callable[[str, OutgoingMessage], str],
    send: Callable[[list[Pending]], Awaitable[str | None]],
    provider_id: Callable[[Pending, str | None], str | None] = lambda p, request_id: request_id,
) -> ChunkResult:
    """Claim, call `send(pending)` once for the messages claimed now, record the outcome.

    `label` starts every error message (`eskiz_sms for connected integration <cid>`). `send`
    returns the provider's request id; it may raise `integrations.sms.http` errors or an
    `IntegrationError` of its own (both mean the provider did not act, except OutcomeUnknown).
    """
    ledger = EffectLedger(redis, ttl=ttl)
    pending = [Pending(m, effect_id(chunk_id, m)) for m in messages]
    previous = await ledger.claim([p.effect_id for p in pending])
    by_index: dict[int, MessageOutcome] = {}
    mine: list[Pending] = []
    for p in pending:
        record = previous.get(p.effect_id)
        if record is None:
            mine.append(p)
        elif record.get("state") == "sent":
            by_index[p.message.index] = outcome(p.message, "accepted", provider_id(p, record.get("provider_id")))
        else:
            by_index[p.message.index] = outcome(
                p.message,
                "unknown",
                error="an earlier attempt sent this message and its outcome is unknown: not resent",
            )
    result = ChunkResult(outcomes=[])
    if mine:
        ids = [p.effect_id for p in mine]
        try:
            request_id = await send(mine)
        except OutcomeUnknown as exc:
            await ledger.mark_unknown(ids, reason=exc.detail)
            log.warning("%s: %s; %d messages marked unknown, not resent", label, exc, len(ids))
            result.unknown = mine
            for p in mine:
                by_index[p.message.index] = outcome(p.message, "unknown", error=f"{label}: {exc} (not resent)")
        except NotSent as exc:
            await ledger.release(ids)
            raise TransientError(f"{label}: {exc}") from None
        except ProviderHTTPError as exc:
            await ledger.release(ids)
            if exc.status == 429 or exc.status >= 500 or exc.status == 408:
                raise TransientError(f"{label}: {exc}", retry_after=exc.retry_after) from None
            raise PermanentError(f"{label}: {exc}") from None
        except IntegrationError:
            await ledger.release(ids)
            raise
        except Exception as exc:
            # A bug after the request may have left: never risk a second send.
            await ledger.mark_unknown(ids, reason=type(exc).__name__)
            raise
        else:
            await ledger.mark_sent(ids, request_id)
            result.accepted = mine
            result.request_id = request_id
            for p in mine:
                by_index[p.message.index] = outcome(p.message, "accepted", provider_id(p, request_id))
    result.outcomes = [by_index[m.index] for m in messages]
    return result
