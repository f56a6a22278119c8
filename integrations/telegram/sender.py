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
from integrations.messages import mask
from integrations.telegram.bot_api import BotAPI, TelegramAPIError, TelegramTransportError
from integrations.telegram.text import MAX_CAPTION, MAX_TEXT, html_to_plain, split_for_photo, split_text, utf16_len
from regos_sdk.redis_kit import Cooldown, RedisRateLimiter, WaitTooLong
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

Status = Literal["sent", "duplicate", "unknown", "failed", "deferred"]


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
    status: Status
    message_id: str | None = None
    error: str | None = None
    chat_gone: bool = False
    migrated_to: str | None = None
    retry_after: float | None = None
    plain_fallback: bool = False
    resent: bool = False  # sent again after an attempt whose outcome was unknown: may be a duplicate

    @property
    def delivered(self) -> bool:
        return self.status in ("sent", "duplicate")


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
    """The part being sent: its claimed effect id, and whether its request may have left
    (decides release vs. unknown when the attempt ends without an answer)."""

    effect_id: str
    request_left: bool = False


class _Deferred(Exception):
    def __init__(self, wait: float | None, reason: str) -> None:
        super().__init__(reason)
        self.wait = wait
        self.reason = reason


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
        self.ledger = EffectLedger(self.redis, ttl=self.settings.pii_retention_seconds)
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
    async def deliver(self, deliveries: Sequence[Delivery]) -> list[DeliveryResult]:
        """Deliver each item (again, if an earlier attempt's outcome is unknown); results in input
        order. Raises PermanentError if
        Telegram rejects the bot token (no claim is left behind)."""
        by_chat: dict[str, list[int]] = {}
        for n, d in enumerate(deliveries):
            by_chat.setdefault(d.chat_id, []).append(n)
        results: list[DeliveryResult | None] = [None] * len(deliveries)
        gate = asyncio.Semaphore(max(1, self.concurrency))

        async def run_chat(chat_id: str, indexes: list[int]) -> None:
            async with gate:
                chat = _Chat(chat_id)
                for n in indexes:
                    results[n] = await self._deliver_one(deliveries[n], chat)

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
            f"(first: chat {mask(first.delivery.chat_id)}: {first.error})",
            retry_after=max(waits) if waits else None,
        )

    # --- one delivery ----------------------------------------------------------------------
    async def _deliver_one(self, delivery: Delivery, chat: _Chat) -> DeliveryResult:
        if chat.gone is not None:
            return replace(chat.gone, delivery=delivery)
        if chat.deferred is not None or self._fatal is not None:
            reason = chat.deferred_reason or "the bot token was rejected"
            return DeliveryResult(
                delivery, "deferred" if self._fatal is None else "failed", error=reason, retry_after=chat.deferred
            )
        parts = plan_parts(delivery)
        first_id: str | None = None
        fresh = resent = False
        for n, part in enumerate(parts):
            eid = delivery.effect_id if len(parts) == 1 else f"{delivery.effect_id}:{n}"
            claim = await self._claim(eid)
            if claim.state == "sent":
                first_id = first_id or claim.provider_id
                continue
            if claim.state == "busy":
                reason = "another attempt is sending this message now"
                chat.deferred, chat.deferred_reason = 0.0, reason
                return self._result(delivery, chat, "deferred", first_id, error=reason)
            if claim.state == "unknown":
                return self._result(
                    delivery,
                    chat,
                    "unknown",
                    first_id,
                    error=f"sent {MAX_RESENDS} more times after attempts whose outcome is unknown; not sent again",
                )
            progress = _Progress(claim.effect_ids[0])
            mine = [progress.effect_id]
            try:
                message_id = await self._send_part(chat, part, progress)
            except _Deferred as exc:
                await self.ledger.release(mine)
                chat.deferred, chat.deferred_reason = exc.wait or 0.0, exc.reason
                return self._result(delivery, chat, "deferred", first_id, error=exc.reason, retry_after=exc.wait)
            except TelegramTransportError as exc:
                if exc.maybe_sent:  # Telegram may hold it: the retry sends it again (at least once)
                    await self.ledger.mark_unknown(mine, "no answer from Telegram")
                else:
                    await self.ledger.release(mine)
                chat.deferred, chat.deferred_reason = 0.0, str(exc)
                return self._result(delivery, chat, "deferred", first_id, error=str(exc))
            except TelegramAPIError as exc:
                await self.ledger.release(mine)
                return self._api_failure(delivery, chat, first_id, exc)
            except BaseException as exc:
                # Cancelled (the task's time limit) or a failure of our own (Redis): nothing left →
                # free for the retry; a request on the wire → unknown, so the retry resends it.
                if progress.request_left:
                    await self.ledger.mark_unknown(mine, f"attempt ended mid-send ({type(exc).__name__})")
                else:
                    await self.ledger.release(mine)
                raise
            await self.ledger.mark_sent(claim.effect_ids, message_id)
            fresh = True
            if claim.resend:
                resent = True
                RESENT.inc()
                log.warning(
                    "%s: resent to chat %s after an attempt whose outcome is unknown (possible duplicate)",
                    self.label,
                    mask(chat.chat_id),
                )
            first_id = first_id or message_id
        return self._result(delivery, chat, "sent" if fresh else "duplicate", first_id, resent=resent)

    async def _claim(self, effect_id: str) -> _Claim:
        """Claim a part, or the next resend slot of a part whose outcome is unknown."""
        lease = float(self.settings.task_time_limit_seconds)  # no attempt runs longer
        previous = (await self.ledger.claim([effect_id], lease=lease)).get(effect_id)
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

    def _result(
        self, delivery: Delivery, chat: _Chat, status: Status, message_id: str | None, **kw: object
    ) -> DeliveryResult:
        return DeliveryResult(
            delivery,
            status,
            message_id=message_id,
            migrated_to=chat.migrated_to,
            plain_fallback=chat.plain_fallback,
            **kw,  # type: ignore[arg-type]
        )

    def _api_failure(
        self, delivery: Delivery, chat: _Chat, first_id: str | None, exc: TelegramAPIError
    ) -> DeliveryResult:
        if exc.unauthorized:
            self._fatal = exc
            return self._result(delivery, chat, "failed", first_id, error=str(exc))
        if exc.server_side:
            chat.deferred, chat.deferred_reason = 0.0, str(exc)
            return self._result(delivery, chat, "deferred", first_id, error=str(exc))
        if exc.chat_gone:
            result = self._result(delivery, chat, "failed", first_id, error=str(exc), chat_gone=True)
            chat.gone = result
            return result
        return self._result(delivery, chat, "failed", first_id, error=str(exc))

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
                await self.ledger.mark_started([progress.effect_id])
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
                    log.info("%s: 429 for chat %s, retry after %.1fs", self.label, mask(chat.chat_id), exc.retry_after)
                    if limited >= MAX_429_PER_PART:
                        raise _Deferred(exc.retry_after, str(exc)) from None
                    continue
                if exc.migrate_to_chat_id and not migrated:
                    migrated = True
                    log.info("%s: chat %s moved to %s", self.label, mask(chat.chat_id), mask(exc.migrate_to_chat_id))
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
