"""E-mail sender: `SendMessages` over each connected integration's SMTP relay.

A chunk opens a small pool of authenticated sessions (`POOL_SIZE`) and sends its messages
through them, one SMTP transaction each. Exactly-once bookkeeping uses `EffectLedger`, with a
rule that differs from SMS on purpose: a message is skipped only when an earlier attempt
*recorded* the relay's 2xx. Anything else is sent again with the same `Message-ID` — a lost
e-mail is worse than a duplicate that receiving servers and clients recognise by that id:

- `unknown` (the connection died or timed out after DATA; written as that attempt ended) →
  taken over at once (compare-and-set, so of two attempts only one resends);
- `claimed` / `started` / legacy `inflight` → its attempt may still be running: the chunk is
  retried once that attempt's time limit (the claim lease) has passed, then taken over. A
  crashed worker leaves such records; its redelivery comes after the visibility timeout, which
  is longer than the lease.

No `started` mark is written before DATA: for e-mail it would change nothing (both states are
resent) and would cost a Redis call per message.

Per message: 2xx → `accepted` (recorded at once, provider_id = Message-ID); 5xx → `failed`
with the relay's reply; 4xx, lost connections and timeouts → the chunk is retried with backoff
after the rest of it went out (the retry skips what was accepted). A refused login fails the
chunk at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import ClassVar

import aiosmtplib

from integrations.base import MessagingIntegrationBase
from integrations.email_sender import mail, smtp
from integrations.email_sender.config import SmtpConfig, parse
from integrations.errors import PermanentError, SettingsError, TransientError
from integrations.ledger import EffectLedger
from schemas.envelope import (
    IntegrationErrorResponse,
    IntegrationResult,
    IntegrationSuccessResponse,
    MessageOutcome,
    OutgoingMessage,
    mask_recipient,
)
from schemas.message_state import MessageStatus

log = logging.getLogger(__name__)

POOL_SIZE = 3  # sessions per chunk: relays limit concurrent connections per account
RATE_KEY = "gw:email:rate:"


@dataclass
class _Work:
    """What one attempt at a chunk learnt."""

    outcomes: dict[int, MessageOutcome] = field(default_factory=dict)
    retry: list[str] = field(default_factory=list)  # why messages must be tried again
    unknown: int = 0
    retry_after: float | None = None  # set when the rate limit stopped the sessions
    login_refused: str | None = None
    resent: set[int] = field(default_factory=set)  # indexes sent again after an unknown outcome
    settled: set[str] = field(default_factory=set)  # effect ids whose ledger record this attempt wrote


def _outcome(
    message: OutgoingMessage,
    status: MessageStatus,
    *,
    provider_id: str | None = None,
    error: str | None = None,
    resent: bool = False,
) -> MessageOutcome:
    return MessageOutcome(
        index=message.index,
        recipient=mask_recipient(message.recipient),
        status=status,
        provider_id=provider_id,
        error=error,
        resolution="resent" if resent else None,
        extra=message.extra,
    )


class EmailSenderIntegration(MessagingIntegrationBase):
    chunk_size: ClassVar[int] = 100

    # --- lifecycle -----------------------------------------------------------------------
    async def _check(self, ok_status: str) -> IntegrationResult:
        """Settings complete and the relay accepts our login (a session opened and closed)."""
        try:
            config = parse(await self.settings_map(), self.label)
        except SettingsError as exc:
            return IntegrationErrorResponse.of(400, str(exc))
        try:
            session = await smtp.open_session(config, self.ctx.settings.provider_timeout_seconds)
        except smtp.LoginRefused as exc:
            return IntegrationErrorResponse.of(400, f"{self.label}: {exc}")
        except smtp.NotReached as exc:
            return IntegrationErrorResponse.of(502, f"{self.label}: {exc}")
        await smtp.close_session(session)
        return IntegrationSuccessResponse(result={"status": ok_status})

    async def connect(self) -> IntegrationResult:
        return await self._check("connected")

    async def update_settings(self) -> IntegrationResult:
        return await self._check("settings updated")

    # --- sending -------------------------------------------------------------------------
    async def send_chunk(self, chunk_id: str, messages: list[OutgoingMessage]) -> list[MessageOutcome]:
        config = parse(await self.settings_map(), self.label)
        ledger = EffectLedger(self.ctx.redis, ttl=self.ctx.settings.pii_retention_seconds)
        bulk_key = chunk_id.rsplit(":", 1)[0]  # the Message-ID must not depend on chunking
        effect = {m.index: self.effect_id(chunk_id, m) for m in messages}
        lease = float(self.ctx.settings.task_time_limit_seconds)  # no attempt runs longer
        previous = await ledger.claim(list(effect.values()), lease=lease)
        work = _Work()
        mine = [m for m in messages if effect[m.index] not in previous]
        earlier = {effect[m.index]: previous[effect[m.index]] for m in messages if effect[m.index] in previous}
        for m in messages:
            record = previous.get(effect[m.index])
            if record is not None and record.get("state") == "sent":
                work.outcomes[m.index] = _outcome(m, "accepted", provider_id=record.get("provider_id"))
                del earlier[effect[m.index]]
        if earlier:  # an earlier attempt never learnt (or never recorded) the outcome: send again
            mine_ids = [effect[m.index] for m in mine]
            await ledger.yield_to_live_attempts(self.label, list(earlier.values()), lease=lease, release=mine_ids)
            taken = set(await ledger.takeover(earlier))
            mine += [m for m in messages if effect[m.index] in taken]
            work.resent = {m.index for m in messages if effect[m.index] in taken}
            if len(taken) < len(earlier):  # taken over by a concurrent attempt between our claim and now
                work.retry.append(f"{len(earlier) - len(taken)} messages are being sent again by another attempt")
            log.warning(
                "%s: %d messages with an unknown outcome are sent again (same Message-ID)", self.label, len(taken)
            )
        queue: asyncio.Queue[OutgoingMessage] = asyncio.Queue()
        for m in sorted(mine, key=lambda m: m.index):
            queue.put_nowait(m)

        async def session_loop() -> None:
            session: aiosmtplib.SMTP | None = None
            try:
                while not queue.empty() and work.login_refused is None and work.retry_after is None:
                    message = queue.get_nowait()
                    if session is None or not session.is_connected:
                        try:
                            session = await smtp.open_session(config, self.ctx.settings.provider_timeout_seconds)
                        except smtp.LoginRefused as exc:
                            work.login_refused = str(exc)
                            return
                        except smtp.NotReached as exc:
                            queue.put_nowait(message)  # left for another session, or for the retry
                            work.retry.append(str(exc))
                            return
                    if (wait := await self._rate_wait(config)) is not None:
                        work.retry.append(f"SMTP_RATE_PER_MINUTE={config.rate_per_minute} reached")
                        work.retry_after = wait
                        return
                    await self._send_one(session, config, ledger, bulk_key, effect[message.index], message, work)
                    if not session.is_connected:  # died or timed out: a hanging relay costs one timeout per session
                        return
            finally:
                if session is not None:
                    await smtp.close_session(session)

        # Sessions stop taking messages (no cancellation mid-transaction) on a refused login or
        # the rate limit; what they did not send is tried again (or fails, for the login).
        loops = await asyncio.gather(
            *(session_loop() for _ in range(min(POOL_SIZE, queue.qsize()))), return_exceptions=True
        )
        for error in loops:
            if isinstance(error, BaseException):  # a bug or Redis down: the task layer decides
                raise error
        # Claimed but never handed to the relay (login refused, rate limit, no session): free them.
        await ledger.release([effect[m.index] for m in mine if effect[m.index] not in work.settled])
        if work.login_refused is not None:
            raise PermanentError(f"{self.label}: {work.login_refused}")
        return self._finish(messages, work)

    async def _send_one(
        self,
        session: aiosmtplib.SMTP,
        config: SmtpConfig,
        ledger: EffectLedger,
        bulk_key: str,
        effect_id: str,
        message: OutgoingMessage,
        work: _Work,
    ) -> None:
        mid = mail.message_id(bulk_key, message.index, config.sender_domain)
        payload = mail.build(config, message, mid)
        where = f"{config.endpoint} for {mask_recipient(message.recipient)}"
        work.settled.add(effect_id)  # each branch below records the outcome in the ledger
        try:
            await smtp.deliver(session, config.sender.addr_spec, message.recipient, payload)
        except smtp.Refused as exc:
            await ledger.release([effect_id])
            error = f"SMTP server {where}: {exc}"
            work.outcomes[message.index] = _outcome(message, "failed", error=error, resent=message.index in work.resent)
        except smtp.Deferred as exc:
            await ledger.release([effect_id])
            work.retry.append(f"SMTP server {where}: {exc}")
        except smtp.OutcomeUnknown as exc:
            await ledger.mark_unknown([effect_id], reason=str(exc))
            work.unknown += 1
            work.retry.append(f"SMTP server {where}: {exc} (sent again with the same Message-ID)")
        else:
            await ledger.mark_sent([effect_id], provider_id=mid)
            resent = message.index in work.resent
            work.outcomes[message.index] = _outcome(message, "accepted", provider_id=mid, resent=resent)

    async def _rate_wait(self, config: SmtpConfig) -> float | None:
        """SMTP_RATE_PER_MINUTE across every process (one counter per connected integration and
        minute): None when this message may go, else the seconds until the next minute."""
        if config.rate_per_minute is None:
            return None
        now = time.time()
        key = f"{RATE_KEY}{self.cid}:{int(now // 60)}"
        async with self.ctx.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 120)
            used, _ = await pipe.execute()
        return 60 - now % 60 if used > config.rate_per_minute else None

    def _finish(self, messages: list[OutgoingMessage], work: _Work) -> list[MessageOutcome]:
        accepted = sum(1 for o in work.outcomes.values() if o.status == "accepted")
        failed = sum(1 for o in work.outcomes.values() if o.status == "failed")
        if len(work.outcomes) < len(messages):
            pending = len(messages) - len(work.outcomes)
            reasons = "; ".join(dict.fromkeys(work.retry)) or "not attempted"
            log.warning(
                "%s: %d accepted, %d failed, %d to retry (%d unknown): %s",
                self.label,
                accepted,
                failed,
                pending,
                work.unknown,
                reasons[:500],
            )
            raise TransientError(
                f"{self.label}: {pending} of {len(messages)} messages not accepted yet: {reasons[:1000]}",
                retry_after=work.retry_after,
            )
        log.info("%s: %d accepted, %d failed", self.label, accepted, failed)
        return [work.outcomes[m.index] for m in messages]
