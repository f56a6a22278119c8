"""GetSMS (Uzbekistan): batches of ≤ 50 SMS per call, statuses polled by `request_id`.

Each message of a chunk is claimed in `EffectLedger` before the call and ends as:
- accepted by GetSMS → `sent` with GetSMS's `request_id` (the handle for its delivery status;
  `waiting` is stored in `integrations.sms.status` and `poll_statuses` updates it);
- refused by GetSMS for that message (`error_no` 300) → `failed` with GetSMS's text;
- the whole request refused (`error_no` 1xx/2xx: credentials, account, limit, data, nickname)
  → released, `PermanentError` with GetSMS's text: nothing was sent, a retry changes nothing;
- no answer (timeout, dropped connection, crash) → `unknown`. GetSMS gives no id before its
  answer, so the outcome cannot be looked up: with `GETSMS_UNKNOWN_POLICY=hold` (default) the
  messages are held for an operator (`jobs.held`); with `resend` the claims are
  released and the chunk retried (at least once: a duplicate SMS is possible).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from integrations.base import SmsIntegrationBase
from integrations.connected_settings import setting
from integrations.errors import PermanentError, SettingsError, TransientError, verdict
from integrations.getsms import client
from integrations.ledger import EffectLedger
from integrations.sms import status
from integrations.sms.dispatch import Pending, outcome
from integrations.sms.http import NotSent, OutcomeUnknown, ProviderCallError, ProviderHTTPError
from jobs import held
from schemas.envelope import (
    IntegrationErrorResponse,
    IntegrationResult,
    IntegrationSuccessResponse,
    MessageOutcome,
    OutgoingMessage,
)

log = logging.getLogger(__name__)

POLICIES = ("hold", "resend")


def _credentials(values: Mapping[str, str]) -> dict[str, str]:
    """GETSMS_LOGIN / GETSMS_PASSWORD as every GetSMS call takes them (`login=`, `password=`)."""
    return {"login": setting(values, "GETSMS_LOGIN") or "", "password": setting(values, "GETSMS_PASSWORD") or ""}


class GetSmsIntegration(SmsIntegrationBase):
    chunk_size: ClassVar[int] = client.MAX_BATCH
    polls_statuses: ClassVar[bool] = True  # GetSMS does not call back: workers.status_poll asks
    required_settings: ClassVar[tuple[str, ...]] = ("GETSMS_LOGIN", "GETSMS_PASSWORD")
    base_url_env: ClassVar[str] = "GETSMS_BASE_URL"  # issued per operator by GetSMS: no public default
    metrics_target: ClassVar[str] = "getsms"

    # --- lifecycle ---------------------------------------------------------------------------
    async def _check(self) -> IntegrationResult:
        values = await self.settings_map()
        absent = await self.missing_settings(values)
        if absent:
            return absent
        policy = (setting(values, "GETSMS_UNKNOWN_POLICY") or "hold").lower()
        if policy not in POLICIES:
            return IntegrationErrorResponse.of(400, "getsms: GETSMS_UNKNOWN_POLICY must be hold or resend")
        try:
            url = self.base_url
        except SettingsError as exc:
            return IntegrationErrorResponse.of(500, f"getsms: gateway misconfigured: {exc}")
        try:
            await client.check_credentials(
                self.ctx.http,
                url,
                **_credentials(values),
                timeout_seconds=self.ctx.settings.provider_timeout_seconds,
            )
        except client.GetSmsRefused as exc:
            return IntegrationErrorResponse.of(400, f"{self.label}: GetSMS refused the credentials: {exc.text}")
        except ProviderCallError as exc:
            return IntegrationErrorResponse.of(502, f"{self.label}: could not check the credentials: {exc}")
        return IntegrationSuccessResponse(result={"status": "connected"})

    async def connect(self) -> IntegrationResult:
        return await self._check()

    async def update_settings(self) -> IntegrationResult:
        result = await self._check()
        if isinstance(result, IntegrationSuccessResponse):
            result = IntegrationSuccessResponse(result={"status": "settings updated"})
        return result

    # --- sending -----------------------------------------------------------------------------
    def _bulk_id(self, chunk_id: str) -> str:
        """The SendMessages task id: chunk tasks run as `{bulk_id}:{n}`."""
        task_id = self.ctx.task_id
        return task_id.rsplit(":", 1)[0] if ":" in task_id else chunk_id

    async def send_chunk(self, chunk_id: str, messages: list[OutgoingMessage]) -> list[MessageOutcome]:
        settings = self.ctx.settings
        values = await self.required_settings_map()
        url = self.base_url
        policy = (setting(values, "GETSMS_UNKNOWN_POLICY") or "hold").lower()
        if policy not in POLICIES:
            raise SettingsError(f"{self.label}: GETSMS_UNKNOWN_POLICY must be hold or resend")
        ttl = settings.pii_retention_seconds
        ledger = EffectLedger(self.ctx.redis, ttl=ttl)
        pending = [Pending(m, self.effect_id(chunk_id, m)) for m in messages]
        previous = await ledger.claim([p.effect_id for p in pending])
        by_index: dict[int, MessageOutcome] = {}
        mine: list[Pending] = []
        lost: list[Pending] = []  # claimed by an earlier attempt that never learnt the outcome
        for p in pending:
            record = previous.get(p.effect_id)
            if record is None:
                mine.append(p)
            elif record.get("state") == "sent":
                by_index[p.message.index] = outcome(p.message, "accepted", record.get("provider_id"))
            else:
                lost.append(p)
        if lost and policy == "resend":
            # At least once: take the earlier attempt's claims over and send them again.
            await ledger.release([p.effect_id for p in lost])
            retaken = await ledger.claim([p.effect_id for p in lost])
            mine += [p for p in lost if p.effect_id not in retaken]
            lost = [p for p in lost if p.effect_id in retaken]
        if lost:
            await self._hold(chunk_id, lost, "an earlier attempt sent these and got no answer", ledger)
            for p in lost:
                by_index[p.message.index] = self._held_outcome(p, chunk_id)
        if mine:
            by_index.update(await self._send(url, values, chunk_id, mine, ledger, policy))
        return [by_index[m.index] for m in messages]

    def _held_outcome(self, p: Pending, chunk_id: str) -> MessageOutcome:
        bulk_id = self._bulk_id(chunk_id)
        return outcome(
            p.message,
            "unknown",
            error=f"{self.label}: no answer from GetSMS, outcome unknown; held for an operator "
            f"(POST /admin/held/{bulk_id}/resend)",
        )

    async def _hold(self, chunk_id: str, items: list[Pending], reason: str, ledger: EffectLedger) -> None:
        await ledger.mark_unknown([p.effect_id for p in items], reason=reason)
        await held.hold(
            self.ctx.redis,
            bulk_id=self._bulk_id(chunk_id),
            client=self.key,
            connected_integration_id=self.cid,
            messages=[(p.effect_id, p.message) for p in items],
            reason=reason,
            ttl=self.ctx.settings.pii_retention_seconds,
        )
        log.warning("%s: %d messages held for an operator: %s", self.label, len(items), reason)

    async def _send(
        self, url: str, values: Mapping[str, str], chunk_id: str, mine: list[Pending], ledger: EffectLedger, policy: str
    ) -> dict[int, MessageOutcome]:
        settings = self.ctx.settings
        ids = [p.effect_id for p in mine]
        try:
            answers = await client.send_messages(
                self.ctx.http,
                url,
                **_credentials(values),
                nickname=setting(values, "GETSMS_NICKNAME"),
                messages=[(p.message.recipient, p.message.message) for p in mine],
                timeout_seconds=settings.provider_timeout_seconds,
            )
        except OutcomeUnknown as exc:
            if policy == "resend":
                await ledger.release(ids)
                raise TransientError(f"{self.label}: {exc}; GETSMS_UNKNOWN_POLICY=resend: sending again") from None
            await self._hold(chunk_id, mine, exc.detail, ledger)
            return {p.message.index: self._held_outcome(p, chunk_id) for p in mine}
        except (NotSent, ProviderHTTPError) as exc:
            await ledger.release(ids)
            raise verdict(self.label, exc) from None
        except client.GetSmsRefused as exc:
            await ledger.release(ids)  # GetSMS sent nothing: a replay after the fix may send
            raise PermanentError(f"{self.label}: {exc}") from None
        except BaseException:
            # A bug or a cancellation after the request may have left: never risk a second send.
            await ledger.mark_unknown(ids, reason="interrupted")
            raise
        out: dict[int, MessageOutcome] = {}
        accepted = [(p, a) for p, a in zip(mine, answers, strict=True) if a.accepted]
        refused = [(p, a) for p, a in zip(mine, answers, strict=True) if not a.accepted]
        for p, a in accepted:
            await ledger.mark_sent([p.effect_id], a.request_id)
            out[p.message.index] = outcome(p.message, "accepted", a.request_id)
        if refused:
            await ledger.release([p.effect_id for p, _ in refused])  # GetSMS sent none of these
        for p, a in refused:
            out[p.message.index] = outcome(
                p.message, "failed", error=f"{self.label}: GetSMS error {a.error_no}: {a.error_text}"
            )
        for p, a in accepted:
            await status.record_pending(
                self.ctx.redis,
                self.cid,
                [(str(a.request_id), p.message.recipient)],
                ttl=settings.pii_retention_seconds,
                request_id=a.request_id,
            )
        return out

    # --- delivery statuses -------------------------------------------------------------------
    async def poll_statuses(self, request_ids: list[str]) -> dict[str, Any]:
        """Ask GetSMS for the status of `request_ids` (≤ MAX_BATCH) and store each answer in
        `integrations.sms.status` (keyed by request_id). Returns `{"statuses": {request_id:
        status}, "final": [request ids whose status is final]}`."""
        values = await self.required_settings_map()
        url = self.base_url
        try:
            rows = await client.query_status(
                self.ctx.http,
                url,
                **_credentials(values),
                request_ids=request_ids,
                timeout_seconds=self.ctx.settings.provider_timeout_seconds,
            )
        except client.GetSmsRefused as exc:
            raise PermanentError(f"{self.label}: {exc}") from None
        except ProviderCallError as exc:  # a status query is harmless to repeat
            raise TransientError(f"{self.label}: {exc}") from None
        out = {}
        for row in rows:
            request_id = str(row["request_id"])
            state = str(row.get("status") or "").strip()
            if not state:
                continue
            report = {
                "user_sms_id": request_id,
                "status": state,
                "status_date": str(row.get("date_delivered") or row.get("date_sent") or ""),
                "request_id": request_id,
                "message_id": row.get("message_id"),
                "phone_number": str(row.get("recipient") or ""),
                "sms_count": row.get("count_messages"),
            }
            await status.apply_report(self.ctx.redis, self.cid, report, ttl=self.ctx.settings.pii_retention_seconds)
            out[request_id] = state
        return {"statuses": out, "final": [r for r, state in out.items() if client.is_final(state)]}
