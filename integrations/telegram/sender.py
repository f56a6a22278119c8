"""Rate-limited, exactly-once delivery of Telegram messages, shared by webhook fan-out and SendMessages.

    sender = TelegramSender(redis=..., http=..., settings=..., token=..., label="...")
    results = await sender.deliver([Delivery(effect_id, chat_id, text, parse_mode="HTML"), ...])

Rate limits (GCRA in Redis, so every worker process shares them; keys name the bot by a sha256
fingerprint of its token, never the token):
- per bot: `BOT_RATE`/s with bursts of `BOT_BURST`, so any 1-second window holds at most 30
  messages (Telegram: about 30 messages/s per bot);
- per chat: 1 message/s; group chats (negative ids) also 20 per minute;
- after a 429 the chat gets a shared `Cooldown` of `retry_after` seconds.
Waits up to `max_inline_wait` seconds (and within the run's time budget, a fraction of the task
time limit) are slept; a longer wait *defers* the delivery: its claim is released and the caller
raises `TransientError(retry_after=...)` once every other chat was served, so the task retries
and the ledger skips what was already sent.

At least once, duplicates bounded. Every part of every delivery is an `EffectLedger` effect
(`effect_id`, or `effect_id:n` for the parts of a split text): claim → mark_started (the request
leaves) → mark_sent (with message_id) / release (Telegram refused, the connection was never made,
or the work was cancelled before the request left) / mark_unknown (no answer after the request
left, or cancelled while waiting for it). What a later attempt finds:
- `sent` → delivered, not resent;
- `claimed`, or `started` younger than the task time limit → another attempt is working on it
  (no attempt outlives that limit): deferred, the task retries later; an older `claimed` one is
  taken over by the ledger's lease (that attempt died before sending) and sent normally;
- `unknown`, or `started` older than the limit (the worker died mid-send) → the outcome is
  unknown. Telegram offers no way to ask whether a message arrived, and a lost notification is
  worse than a repeated one, so it is SENT AGAIN, under a resend effect `effect_id#resendN`
  claimed the same way: each crash or lost answer adds at most one duplicate per (chat, part),
  and after `MAX_RESENDS` the delivery is reported `unknown`. Resends are counted
  (`DeliveryResult.resent`, metric `gateway_telegram_resent_total`).

Digests (`deliver(..., digest=True)`, the notifier's batches): consecutive text deliveries to one
chat go out as ONE message (`text.join_digest`, in order, at most 4,096 units; more messages, cut
at delivery boundaries only, when longer). Exactly-once stays per delivery: the ledger entries of
a digest's deliveries are claimed in one call, marked started and sent together with the digest's
message id; what an earlier attempt already sent is left out, so a redelivered batch sends a
digest of the rest, and an unknown one is resent (bounded as above) inside the next digest.

Per chat, deliveries run in order, one after the other; chats run concurrently (`concurrency`).
Telegram answers handled here: 429 → wait and retry that chat only; `migrate_to_chat_id` → resend
to the new id (reported in `migrated_to`); "can't parse entities" → resend as plain text; 403 /
"chat not found" → `chat_gone` (the caller decides whether to drop the subscriber); 401/404 →
the bot token is invalid: `deliver` raises PermanentError after releasing every claim.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import httpx2
from prometheus_client import Counter
from redis.asyncio import Redis

from integrations.errors import PermanentError, TransientError
from integrations.ledger import EffectLedger
from integrations.telegram.bot_api import BotAPI, TelegramAPIError, TelegramTransportError
from integrations.telegram.text import (
    MAX_CAPTION,
    MAX_TEXT,
    html_to_plain,
    join_digest,
    pack_digests,
    split_for_photo,
    split_text,
    utf16_len,
)
from kit.ratelimit import Cooldown, RedisRateLimiter, WaitTooLong
from schemas.envelope import mask_recipient
from schemas.message_state import DELIVERED, DeliveryStatus
from settings import Settings

log = logging.getLogger(__name__)

BOT_RATE = 28.0  # with BOT_BURST (and network jitter), no 1-second window holds more than 30 messages
BOT_BURST = 1
CHAT_RATE = 1.0
CHAT_BURST = 1
GROUP_RATE = 20 / 60
GROUP_BURST = 5
MAX_INLINE_WAIT = 5.0
MAX_429_PER_PART = 3
PREFIX = "gw:tg:"
MAX_RESENDS = 3  # resends of one part whose outcome is unknown; each is one possible duplicate

RESENT = Counter(
    "gateway_telegram_resent",
    "Telegram messages sent again because an earlier attempt's outcome was unknown (possible duplicates)",
)

BUSY = "another attempt is sending this message now"
RESENDS_SPENT = f"sent {MAX_RESENDS} more times after attempts whose outcome is unknown; not sent again"


@dataclass(frozen=True)
class Delivery:
    """One logical message to one chat. `photo` → sendPhoto with `text` as caption."""

    effect_id: str
    chat_id: str
    text: str
    parse_mode: str | None = None
    photo: str | None = None


@dataclass
class DeliveryResult:
    delivery: Delivery
    status: DeliveryStatus
    message_id: str | None = None
    error: str | None = None
    chat_gone: bool = False
    migrated_to: str | None = None
    retry_after: float | None = None
    plain_fallback: bool = False
    resent: bool = False  # sent again after an attempt whose outcome was unknown: may be a duplicate
    in_digest: int = 0  # sent now inside one message with this many notifications (0: on its own)

    @property
    def delivered(self) -> bool:
        return self.status in DELIVERED


@dataclass(frozen=True)
class _Part:
    text: str
    parse_mode: str | None
    photo: str | None = None


@dataclass
class _Chat:
    chat_id: str
    migrated_to: str | None = None
    gone: DeliveryResult | None = None
    deferred: float | None = None
    deferred_reason: str = ""
    plain_fallback: bool = False


@dataclass
class _Claim:
    """One part's ledger claim. `mine`: this attempt sends and records under `effect_ids`
    (first the id it claimed, then the original one when it is a resend); `busy`: another live
    attempt holds it; `unknown`: every resend was spent."""

    state: Literal["mine", "sent", "busy", "unknown"]
    effect_ids: list[str] = field(default_factory=list)
    resend: bool = False
    provider_id: str | None = None


@dataclass
class _Progress:
    """The call being sent: the effect ids it claimed (one per delivery it carries), and whether
    its request may have left (decides release vs. unknown when the attempt ends without an answer)."""

    effect_ids: list[str]
    request_left: bool = False


class _Deferred(Exception):
    def __init__(self, wait: float | None, reason: str) -> None:
        super().__init__(reason)
        self.wait = wait
        self.reason = reason


class _CallFailed(Exception):
    """A Bot API call ended without sending; its claims are already released or marked unknown."""

    def __init__(
        self, status: DeliveryStatus, error: str, retry_after: float | None = None, chat_gone: bool = False
    ) -> None:
        super().__init__(error)
        self.status: DeliveryStatus = status
        self.error = error
        self.retry_after = retry_after
        self.chat_gone = chat_gone


def _live(record: dict, lease: float) -> bool:
    """A `claimed` / `started` record its attempt may still be working on (younger than `lease`).
    `unknown` was written by an attempt that ended; records without `at` are from older code."""
    if record.get("state") not in ("claimed", "started"):
        return False
    at = record.get("at")
    return isinstance(at, int | float) and time.time() - at < lease


def plan_parts(delivery: Delivery) -> list[_Part]:
    """The Bot API calls one delivery needs. HTML that must be split is sent as plain text
    (a cut could fall inside a tag or an entity)."""
    text, mode = delivery.text, delivery.parse_mode
    if delivery.photo:
        if mode and utf16_len(text) > MAX_CAPTION:
            text, mode = html_to_plain(text), None
        caption, rest = split_for_photo(text)
        return [_Part(caption, mode, delivery.photo), *(_Part(t, mode) for t in rest)]
    if utf16_len(text) <= MAX_TEXT:
        return [_Part(text, mode)]
    if mode:
        text, mode = html_to_plain(text), None
    return [_Part(t, mode) for t in split_text(text, MAX_TEXT)]


@dataclass
class TelegramSender:
    redis: Redis
    http: httpx2.AsyncClient
    settings: Settings
    token: str
    label: str
    concurrency: int = 16
    max_inline_wait: float = MAX_INLINE_WAIT
    budget: float | None = None  # seconds of waiting this run may spend; default 60% of the task limit
    bot_rate: float = BOT_RATE
    bot_burst: int = BOT_BURST
    _fatal: TelegramAPIError | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.api = BotAPI(
            self.http, self.settings.telegram_api_base_url, self.token, timeout=self.settings.provider_timeout_seconds
        )
        self.bot = self.api.fingerprint
        self.ledger = EffectLedger(self.redis, ttl=self.settings.effect_marker_ttl_seconds)
        self.bot_limiter = RedisRateLimiter(
            self.redis, prefix=PREFIX + "rl:bot:", rate=self.bot_rate, burst=self.bot_burst
        )
        self.chat_limiter = RedisRateLimiter(self.redis, prefix=PREFIX + "rl:chat:", rate=CHAT_RATE, burst=CHAT_BURST)
        self.group_limiter = RedisRateLimiter(
            self.redis, prefix=PREFIX + "rl:group:", rate=GROUP_RATE, burst=GROUP_BURST
        )
        self.cooldown = Cooldown(self.redis, prefix=PREFIX + "cool:")
        budget = self.budget if self.budget is not None else self.settings.task_time_limit_seconds * 0.6
        self._deadline = time.monotonic() + budget

    # --- public ----------------------------------------------------------------------------
    async def deliver(self, deliveries: Sequence[Delivery], *, digest: bool = False) -> list[DeliveryResult]:
        """Deliver each item (again, if an earlier attempt's outcome is unknown); results in input
        order. `digest`: consecutive text deliveries to one chat share messages (module docstring).
        Raises PermanentError if Telegram rejects the bot token (no claim is left behind)."""
        by_chat: dict[str, list[int]] = {}
        for n, d in enumerate(deliveries):
            by_chat.setdefault(d.chat_id, []).append(n)
        results: list[DeliveryResult | None] = [None] * len(deliveries)
        gate = asyncio.Semaphore(max(1, self.concurrency))

        async def run_chat(chat_id: str, indexes: list[int]) -> None:
            async with gate:
                chat = _Chat(chat_id)
                groups = _digest_groups(deliveries, indexes) if digest else [[n] for n in indexes]
                for group in groups:
                    if len(group) == 1:
                        results[group[0]] = await self._deliver_one(deliveries[group[0]], chat)
                        continue
                    done = await self._deliver_digest([deliveries[n] for n in group], chat)
                    for n, result in zip(group, done, strict=True):
                        results[n] = result

        await asyncio.gather(*(run_chat(c, idx) for c, idx in by_chat.items()))
        if self._fatal is not None:
            raise PermanentError(f"{self.label}: Telegram rejected BOT_TOKEN: {self._fatal}")
        return [r for r in results if r is not None]

    @staticmethod
    def transient_error(label: str, results: Sequence[DeliveryResult]) -> TransientError | None:
        """A TransientError for the deferred deliveries, or None when nothing was deferred."""
        deferred = [r for r in results if r.status == "deferred"]
        if not deferred:
            return None
        waits = [r.retry_after for r in deferred if r.retry_after]
        first = deferred[0]
        return TransientError(
            f"{label}: {len(deferred)} Telegram deliver{'y' if len(deferred) == 1 else 'ies'} deferred "
            f"(first: chat {mask_recipient(first.delivery.chat_id)}: {first.error})",
            retry_after=max(waits) if waits else None,
        )

    # --- one delivery, or one digest ---------------------------------------------------------
    def _blocked(self, delivery: Delivery, chat: _Chat) -> DeliveryResult | None:
        """The result when nothing more may be sent to this chat in this run (gone, deferred, bad token)."""
        if chat.gone is not None:
            return replace(chat.gone, delivery=delivery)
        if chat.deferred is not None or self._fatal is not None:
            reason = chat.deferred_reason or "the bot token was rejected"
            return DeliveryResult(
                delivery, "deferred" if self._fatal is None else "failed", error=reason, retry_after=chat.deferred
            )
        return None

    async def _deliver_one(self, delivery: Delivery, chat: _Chat) -> DeliveryResult:
        blocked = self._blocked(delivery, chat)
        if blocked is not None:
            return blocked
        parts = plan_parts(delivery)
        first_id: str | None = None
        fresh = resent = False
        for n, part in enumerate(parts):
            [claim] = await self._claim_all([delivery.effect_id if len(parts) == 1 else f"{delivery.effect_id}:{n}"])
            if claim.state == "sent":
                first_id = first_id or claim.provider_id
                continue
            if claim.state == "busy":
                chat.deferred, chat.deferred_reason = 0.0, BUSY
                return self._result(delivery, chat, "deferred", first_id, error=BUSY)
            if claim.state == "unknown":
                return self._result(delivery, chat, "unknown", first_id, error=RESENDS_SPENT)
            try:
                message_id = await self._send_call(chat, part, [claim])
            except _CallFailed as failed:
                return self._failed(delivery, chat, first_id, failed)
            fresh = True
            resent = resent or claim.resend
            first_id = first_id or message_id
        return self._result(delivery, chat, "sent" if fresh else "already_sent", first_id, resent=resent)

    async def _deliver_digest(self, group: Sequence[Delivery], chat: _Chat) -> list[DeliveryResult]:
        """Deliveries to one chat that fit one message: claimed together, sent as one, marked together."""
        blocked = [self._blocked(d, chat) for d in group]
        if any(b is not None for b in blocked):
            return [b for b in blocked if b is not None]
        claims = await self._claim_all([d.effect_id for d in group])
        results: list[DeliveryResult | None] = [None] * len(group)
        for n, (delivery, claim) in enumerate(zip(group, claims, strict=True)):
            if claim.state == "sent":
                results[n] = self._result(delivery, chat, "already_sent", claim.provider_id)
            elif claim.state == "unknown":
                results[n] = self._result(delivery, chat, "unknown", None, error=RESENDS_SPENT)
        mine = [n for n, claim in enumerate(claims) if claim.state == "mine"]
        if any(claim.state == "busy" for claim in claims):  # wait for that attempt; keep the order
            await self.ledger.release([claims[n].effect_ids[0] for n in mine])
            chat.deferred, chat.deferred_reason = 0.0, BUSY
            return [
                r or self._result(d, chat, "deferred", None, error=BUSY) for d, r in zip(group, results, strict=True)
            ]
        if mine:
            part = _Part(join_digest([group[n].text for n in mine]), group[0].parse_mode)
            try:
                message_id = await self._send_call(chat, part, [claims[n] for n in mine])
            except _CallFailed as failed:
                for n in mine:
                    results[n] = self._failed(group[n], chat, None, failed)
            else:
                size = len(mine) if len(mine) > 1 else 0
                for n in mine:
                    results[n] = self._result(
                        group[n], chat, "sent", message_id, resent=claims[n].resend, in_digest=size
                    )
        return [r for r in results if r is not None]

    async def _claim_all(self, effect_ids: Sequence[str]) -> list[_Claim]:
        """Claim every id in one ledger call; for one whose outcome is unknown, its next resend slot."""
        lease = float(self.settings.task_time_limit_seconds)  # no attempt runs longer
        previous = await self.ledger.claim(effect_ids, lease=lease)
        return [await self._settle(effect_id, previous.get(effect_id), lease) for effect_id in effect_ids]

    async def _settle(self, effect_id: str, previous: dict | None, lease: float) -> _Claim:
        if previous is None:
            return _Claim("mine", [effect_id])
        if previous.get("state") == "sent":
            return _Claim("sent", provider_id=previous.get("provider_id"))
        if _live(previous, lease):
            return _Claim("busy")
        for n in range(1, MAX_RESENDS + 1):
            resend_id = f"{effect_id}#resend{n}"
            record = (await self.ledger.claim([resend_id], lease=lease)).get(resend_id)
            if record is None:
                return _Claim("mine", [resend_id, effect_id], resend=True)
            if record.get("state") == "sent":
                return _Claim("sent", provider_id=record.get("provider_id"))
            if _live(record, lease):
                return _Claim("busy")
        return _Claim("unknown")

    async def _send_call(self, chat: _Chat, part: _Part, claims: Sequence[_Claim]) -> str | None:
        """One Bot API call carrying these claimed deliveries; its outcome goes to the ledger for all
        of them at once. Raises _CallFailed (claims released or marked unknown) when nothing was sent."""
        progress = _Progress([claim.effect_ids[0] for claim in claims])
        try:
            message_id = await self._send_part(chat, part, progress)
        except _Deferred as exc:
            await self.ledger.release(progress.effect_ids)
            chat.deferred, chat.deferred_reason = exc.wait or 0.0, exc.reason
            raise _CallFailed("deferred", exc.reason, exc.wait) from None
        except TelegramTransportError as exc:
            if exc.maybe_sent:  # Telegram may hold it: the retry sends it again (at least once)
                await self.ledger.mark_unknown(progress.effect_ids, "no answer from Telegram")
            else:
                await self.ledger.release(progress.effect_ids)
            chat.deferred, chat.deferred_reason = 0.0, str(exc)
            raise _CallFailed("deferred", str(exc)) from None
        except TelegramAPIError as exc:
            await self.ledger.release(progress.effect_ids)
            raise self._api_failure(chat, exc) from None
        except BaseException as exc:
            # Cancelled (the task's time limit) or a failure of our own (Redis): nothing left →
            # free for the retry; a request on the wire → unknown, so the retry resends it.
            if progress.request_left:
                await self.ledger.mark_unknown(progress.effect_ids, f"attempt ended mid-send ({type(exc).__name__})")
            else:
                await self.ledger.release(progress.effect_ids)
            raise
        await self.ledger.mark_sent([eid for claim in claims for eid in claim.effect_ids], message_id)
        for claim in claims:
            if claim.resend:
                RESENT.inc()
                log.warning(
                    "%s: resent to chat %s after an attempt whose outcome is unknown (possible duplicate)",
                    self.label,
                    mask_recipient(chat.chat_id),
                )
        return message_id

    def _result(
        self, delivery: Delivery, chat: _Chat, status: DeliveryStatus, message_id: str | None, **kw: object
    ) -> DeliveryResult:
        return DeliveryResult(
            delivery,
            status,
            message_id=message_id,
            migrated_to=chat.migrated_to,
            plain_fallback=chat.plain_fallback,
            **kw,  # type: ignore[arg-type]
        )

    def _failed(self, delivery: Delivery, chat: _Chat, first_id: str | None, failed: _CallFailed) -> DeliveryResult:
        result = self._result(
            delivery,
            chat,
            failed.status,
            first_id,
            error=failed.error,
            retry_after=failed.retry_after,
            chat_gone=failed.chat_gone,
        )
        if failed.chat_gone and chat.gone is None:
            chat.gone = result
        return result

    def _api_failure(self, chat: _Chat, exc: TelegramAPIError) -> _CallFailed:
        if exc.unauthorized:
            self._fatal = exc
            return _CallFailed("failed", str(exc))
        if exc.server_side:
            chat.deferred, chat.deferred_reason = 0.0, str(exc)
            return _CallFailed("deferred", str(exc))
        return _CallFailed("failed", str(exc), chat_gone=exc.chat_gone)

    # --- one Bot API call, with waits and Telegram's corrections ---------------------------
    def _allowed_wait(self) -> float:
        return max(0.0, min(self.max_inline_wait, self._deadline - time.monotonic()))

    def _chat_key(self, chat_id: str) -> str:
        return f"{self.bot}:{chat_id}"

    async def _wait_turn(self, chat_id: str) -> None:
        key = self._chat_key(chat_id)
        remaining = await self.cooldown.remaining(key)
        if remaining > 0:
            if remaining > self._allowed_wait():
                raise _Deferred(remaining, f"Telegram asked to wait {remaining:.1f}s for this chat")
            await asyncio.sleep(remaining)
        try:
            await self.chat_limiter.acquire(key, max_wait=self._allowed_wait())
            if chat_id.startswith("-"):
                await self.group_limiter.acquire(key, max_wait=self._allowed_wait())
            await self.bot_limiter.acquire(self.bot, max_wait=self._allowed_wait())
        except WaitTooLong as exc:
            raise _Deferred(exc.wait, f"rate limit: next slot in {exc.wait:.1f}s") from None

    async def _send_part(self, chat: _Chat, part: _Part, progress: _Progress) -> str | None:
        limited = 0
        migrated = False
        while True:
            await self._wait_turn(chat.chat_id)
            if not progress.request_left:
                await self.ledger.mark_started(progress.effect_ids)
                progress.request_left = True
            try:
                if part.photo:
                    result = await self.api.send_photo(
                        chat.chat_id, part.photo, caption=part.text or None, parse_mode=part.parse_mode
                    )
                else:
                    result = await self.api.send_message(chat.chat_id, part.text, parse_mode=part.parse_mode)
            except TelegramAPIError as exc:
                progress.request_left = False  # Telegram answered: it did not take this request
                if exc.retry_after is not None:
                    await self.cooldown.set(self._chat_key(chat.chat_id), exc.retry_after)
                    limited += 1
                    log.info(
                        "%s: 429 for chat %s, retry after %.1fs",
                        self.label,
                        mask_recipient(chat.chat_id),
                        exc.retry_after,
                    )
                    if limited >= MAX_429_PER_PART:
                        raise _Deferred(exc.retry_after, str(exc)) from None
                    continue
                if exc.migrate_to_chat_id and not migrated:
                    migrated = True
                    log.info(
                        "%s: chat %s moved to %s",
                        self.label,
                        mask_recipient(chat.chat_id),
                        mask_recipient(exc.migrate_to_chat_id),
                    )
                    chat.chat_id = chat.migrated_to = exc.migrate_to_chat_id
                    continue
                if exc.cant_parse_entities and part.parse_mode:
                    log.warning("%s: Telegram could not parse the markup; resending as plain text", self.label)
                    part = _Part(html_to_plain(part.text), None, part.photo)
                    chat.plain_fallback = True
                    continue
                raise
            message_id = result.get("message_id") if isinstance(result, dict) else None
            return str(message_id) if message_id is not None else None


def _digest_groups(deliveries: Sequence[Delivery], indexes: list[int]) -> list[list[int]]:
    """One chat's deliveries (positions, in order) grouped into digest messages: runs of text
    deliveries with the same parse mode, packed up to Telegram's limit; a photo goes alone."""
    groups: list[list[int]] = []
    run: list[int] = []

    def close_run() -> None:
        lengths = [utf16_len(deliveries[n].text) for n in run]
        groups.extend([run[i] for i in packed] for packed in pack_digests(lengths))
        run.clear()

    for n in indexes:
        delivery = deliveries[n]
        if run and (delivery.photo or delivery.parse_mode != deliveries[run[0]].parse_mode):
            close_run()
        if delivery.photo:
            groups.append([n])
        else:
            run.append(n)
    if run:
        close_run()
    return groups
