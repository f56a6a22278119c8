"""The exactly-once send of one chunk, shared by the SMS integrations.

For each message of the chunk, `EffectLedger` is claimed with `effect_id(chunk_id, message)`:

- found `sent` → outcome `accepted` (an earlier attempt delivered it; not resent);
- claimed now (or found `claimed` by an attempt older than `claim_lease`, which died before any
  request left) → part of the one provider call made by this attempt;
- found `claimed`/`started` younger than `claim_lease` → another attempt may still be running:
  `TransientError` with a wait until its time limit has passed (nothing is sent meanwhile);
- found `started`/`unknown` (an earlier attempt's request left and its answer was lost):
  - `deduplicates_by_id` (the provider ignores a repeated message id) → sent again, same id;
  - `reconcile` given (Eskiz) → the provider is asked what it holds; those are `accepted`
    (resolution `reconciled`, with the provider's ids), the rest are sent again (`resent`).
    If the provider cannot answer, `TransientError`: retried with backoff, never resent blind;
  - neither → outcome `unknown`, not resent (`ChunkResult.unresolved`).

The ledger says `started` just before the request leaves: when `announces_start` is set the
integration's client marks it itself through `integrations.sms.http.call(effect=True)` (so work
cancelled while waiting for a token is released); otherwise it is marked before `send` runs.

The provider call ends one of these ways:

- 2xx → `mark_sent`, outcomes `accepted`;
- the request never left (connect error) or the provider answered 5xx / 429 / 4xx
  → `release` and `TransientError` (5xx, 429 with its Retry-After, transport) or
  `PermanentError` (other 4xx);
- the request left but no answer came (read timeout, dropped connection) → `mark_unknown`; with a
  way to resolve it (`reconcile` / `deduplicates_by_id`) a `TransientError` makes the retry
  resolve it, otherwise the outcomes are `unknown`;
- cancelled (task time limit: `asyncio.CancelledError`) or any other error → `mark_unknown` if
  the request had started, else `release`; then re-raised.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field

from redis.asyncio import Redis

from integrations.errors import IntegrationError, TransientError, verdict
from integrations.ledger import EffectLedger
from integrations.sms.http import NotSent, OutcomeUnknown, ProviderHTTPError, on_effect_request
from integrations.sms.segments import count_segments
from schemas.envelope import MessageOutcome, OutgoingMessage, mask_recipient
from schemas.message_state import MessageStatus, Resolution

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
    reconciled: list[Pending] = field(default_factory=list)  # the provider already had them: not resent
    resent: list[Pending] = field(default_factory=list)  # an earlier unknown, sent again (in `accepted`)
    unresolved: list[Pending] = field(default_factory=list)  # an earlier unknown, left unknown


# Reconcile: given messages whose earlier send is unknown, return {effect_id: provider id} for those
# the provider holds. Raising means "could not tell" (the chunk is retried, nothing is resent).
Reconcile = Callable[[list[Pending]], Awaitable[dict[str, str | None]]]


def outcome(
    message: OutgoingMessage,
    status: MessageStatus,
    provider_id: str | None = None,
    error: str | None = None,
    resolution: Resolution | None = None,
) -> MessageOutcome:
    return MessageOutcome(
        index=message.index,
        recipient=mask_recipient(message.recipient),
        status=status,
        segments=count_segments(message.message),
        provider_id=provider_id,
        error=error,
        resolution=resolution,
    )


async def _cleanup(label: str, what: str, step: Coroutine[object, object, None]) -> None:
    """Ledger bookkeeping on the way out of a failed or cancelled send: shielded from a second
    cancellation, and never masking the original error. If it fails, the record stays
    `claimed`/`started` and a later attempt resolves it after the claim lease."""
    try:
        await asyncio.shield(step)
    except BaseException as exc:  # the original error matters more than the bookkeeping
        log.warning("%s: could not %s in the ledger: %s", label, what, type(exc).__name__)


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
    reconcile: Reconcile | None = None,
    deduplicates_by_id: bool = False,
    announces_start: bool = False,
    claim_lease: float = 0.0,
) -> ChunkResult:
    """Claim, resolve earlier unknowns, call `send(pending)` once, record the outcome.

    `label` starts every error message (`eskiz_sms for connected integration <cid>`). `send`
    returns the provider's request id; it may raise `integrations.sms.http` errors or an
    `IntegrationError` of its own (both mean the provider did not act, except OutcomeUnknown).
    `claim_lease`: the longest an attempt can run (the task time limit); 0 keeps every earlier
    claim as it is (nothing is ever taken over). See the module docstring for the rest.
    """
    ledger = EffectLedger(redis, ttl=ttl)
    pending = [Pending(m, effect_id(chunk_id, m)) for m in messages]
    previous = await ledger.claim([p.effect_id for p in pending], lease=claim_lease)
    by_index: dict[int, MessageOutcome] = {}
    mine: list[Pending] = []
    earlier: dict[str, tuple[Pending, dict]] = {}  # unresolved records of earlier attempts
    for p in pending:
        record = previous.get(p.effect_id)
        if record is None:
            mine.append(p)
        elif record.get("state") == "sent":
            by_index[p.message.index] = outcome(p.message, "accepted", provider_id(p, record.get("provider_id")))
        else:
            earlier[p.effect_id] = (p, record)
    result = ChunkResult(outcomes=[])
    resolvable = reconcile is not None or deduplicates_by_id
    resend: list[Pending] = []
    if earlier and resolvable:
        # Its owner may still be sending: let it finish (or hit its time limit) first.
        records = [record for _, record in earlier.values()]
        await ledger.yield_to_live_attempts(label, records, lease=claim_lease, release=[p.effect_id for p in mine])
        found: dict[str, str | None] = {}
        if reconcile is not None and not deduplicates_by_id:  # an idempotent id needs no question
            try:
                found = {k: v for k, v in (await reconcile([p for p, _ in earlier.values()])).items() if k in earlier}
            except IntegrationError:
                await ledger.release([p.effect_id for p in mine])
                raise
            except Exception as exc:
                await ledger.release([p.effect_id for p in mine])
                raise TransientError(
                    f"{label}: could not ask the provider which of {len(earlier)} messages with an unknown "
                    f"outcome it holds ({exc}); retrying, nothing is resent before it answers"
                ) from None
            await ledger.mark_sent_each(found)
            for effect in found:
                p = earlier[effect][0]
                result.reconciled.append(p)
                by_index[p.message.index] = outcome(
                    p.message, "accepted", provider_id(p, found[effect]), resolution="reconciled"
                )
        rest = {effect: record for effect, (_, record) in earlier.items() if effect not in found}
        taken = set(await ledger.takeover(rest))
        for effect in rest:
            p = earlier[effect][0]
            if effect in taken:
                resend.append(p)
            else:  # another attempt resolved it between our claim and now
                by_index[p.message.index] = outcome(
                    p.message, "unknown", error=f"{label}: being resolved by another attempt (not resent here)"
                )
        if found or resend:
            log.info(
                "%s: %d earlier unknown outcomes: %d found at the provider, %d to send again",
                label,
                len(earlier),
                len(found),
                len(resend),
            )
    else:
        for p, _record in earlier.values():
            result.unresolved.append(p)
            by_index[p.message.index] = outcome(
                p.message,
                "unknown",
                error="an earlier attempt sent this message and its outcome is unknown: not resent",
            )
    to_send = mine + resend
    if to_send:
        await _send(ledger, label, to_send, resend, send, provider_id, resolvable, announces_start, result, by_index)
    result.resent = resend
    result.outcomes = [by_index[m.index] for m in messages]
    return result


async def _send(
    ledger: EffectLedger,
    label: str,
    to_send: list[Pending],
    resend: list[Pending],
    send: Callable[[list[Pending]], Awaitable[str | None]],
    provider_id: Callable[[Pending, str | None], str | None],
    resolvable: bool,
    announces_start: bool,
    result: ChunkResult,
    by_index: dict[int, MessageOutcome],
) -> None:
    ids = [p.effect_id for p in to_send]
    resent = {p.effect_id for p in resend}
    started = False

    async def mark_started() -> None:
        nonlocal started
        if not started:
            await ledger.mark_started(ids)
            started = True

    try:
        if not announces_start:
            await mark_started()
        with on_effect_request(mark_started):
            request_id = await send(to_send)
    except OutcomeUnknown as exc:
        await ledger.mark_unknown(ids, reason=exc.detail)
        if resolvable:  # the retry asks the provider (or resends the same ids): resolved, not reported
            raise TransientError(f"{label}: {exc}; {len(ids)} messages will be resolved on retry") from None
        log.warning("%s: %s; %d messages marked unknown, not resent", label, exc, len(ids))
        result.unknown = to_send
        for p in to_send:
            by_index[p.message.index] = outcome(p.message, "unknown", error=f"{label}: {exc} (not resent)")
    except (NotSent, ProviderHTTPError) as exc:
        await ledger.release(ids)
        raise verdict(label, exc) from None
    except IntegrationError:
        await ledger.release(ids)
        raise
    except BaseException as exc:
        # Cancelled (time limit) or a bug: if the request may have left, never risk a blind second
        # send; if it had not, nothing happened and a retry may send.
        if started:
            await _cleanup(label, "mark unknown", ledger.mark_unknown(ids, reason=type(exc).__name__))
        else:
            await _cleanup(label, "release", ledger.release(ids))
        raise
    else:
        await ledger.mark_sent(ids, request_id)
        result.accepted = to_send
        result.request_id = request_id
        for p in to_send:
            by_index[p.message.index] = outcome(
                p.message,
                "accepted",
                provider_id(p, request_id),
                resolution="resent" if p.effect_id in resent else None,
            )
