"""Eskiz (Uzbekistan): batches of ≤ 100 SMS per call, delivery reports by callback.

Sending: one `send-batch` call per chunk (also for a one-message chunk, because only
send-batch carries our `user_sms_id`, which delivery reports echo back). `user_sms_id` is a
hash of the message's effect id, so a retried chunk sends the same ids; `dispatch_id` is a
stable number derived from the chunk id. Exactly-once per message: `integrations.sms.dispatch`.

Reconcile, then send: when an earlier attempt's batch has an unknown outcome (the worker died or
timed out after the request left), the chunk first asks Eskiz what it holds for the chunk's
`dispatch_id` (`get-user-messages-by-dispatch`), marks those messages sent (Eskiz's request and
message ids go into their status rows, so delivery reports still match by `user_sms_id`) and
sends only the rest. If Eskiz cannot answer, the chunk is retried with backoff; nothing is
resent blind.

Connect logs in live (wrong credentials → `ok: false` with Eskiz's own words) and reads the
balance (`user/get-limit`).

Tokens: see `integrations.eskiz_sms.tokens`. On HTTP 401 the cached token is dropped (only if
it is still the one that failed), the integration logs in again once and retries the call
once; a second 401 is a PermanentError.

Delivery reports: the callback URL is `ESKIZ_CALLBACK_URL` if set, else
`{PUBLIC_BASE_URL}/clients/eskiz_sms/external/{cid}/delivery?sig=<derived token>`; the ingress
checks `sig`, and `handle_external` stores each report with `integrations.sms.status`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

from integrations.base import SmsIntegrationBase
from integrations.connected_settings import setting
from integrations.errors import IntegrationError, PermanentError, TransientError
from integrations.eskiz_sms.client import DEFAULT_SENDER, MAX_BATCH, BatchItem, EskizClient
from integrations.eskiz_sms.tokens import TOKEN_TTL_SECONDS, CachedToken, token_cache
from integrations.guards import SIGNATURE_PARAM, SMS_CALLBACK_PURPOSE
from integrations.signing import derive_token
from integrations.sms import status
from integrations.sms.dispatch import Pending
from integrations.sms.http import ProviderCallError, ProviderHTTPError
from schemas.envelope import (
    ExternalRequest,
    IntegrationErrorResponse,
    IntegrationResult,
    IntegrationSuccessResponse,
    MessageOutcome,
    OutgoingMessage,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_REPORTS_PER_CALL = 1000
_warned_no_callback = False


def user_sms_id_for(effect_id: str) -> str:
    """Our id for one message at Eskiz (32 hex chars), stable across retries of its chunk."""
    return SmsIntegrationBase.provider_message_id(effect_id)


def dispatch_id_for(chunk_id: str) -> int:
    """A stable positive 31-bit number for one chunk."""
    return int.from_bytes(hashlib.sha256(chunk_id.encode()).digest()[:4], "big") & 0x7FFFFFFF


class EskizSmsIntegration(SmsIntegrationBase):
    chunk_size: ClassVar[int] = MAX_BATCH
    required_settings: ClassVar[tuple[str, ...]] = ("ESKIZ_EMAIL", "ESKIZ_PASSWORD")
    base_url_env: ClassVar[str] = "ESKIZ_BASE_URL"
    base_url_default: ClassVar[str] = "https://notify.eskiz.uz/api"
    metrics_target: ClassVar[str] = "eskiz"

    # --- lifecycle -----------------------------------------------------------------------
    async def _check(self, ok_status: str) -> IntegrationResult:
        return await self.missing_settings(await self.settings_map()) or IntegrationSuccessResponse(
            result={"status": ok_status}
        )

    async def connect(self) -> IntegrationResult:
        checked = await self._check("connected")
        if not checked.ok:
            return checked
        values = await self.settings_map()
        email, password = setting(values, "ESKIZ_EMAIL") or "", setting(values, "ESKIZ_PASSWORD") or ""
        eskiz = self._client()
        try:
            token = await eskiz.login(email, password)
        except ProviderCallError as exc:
            error = self._login_error(exc)
            if isinstance(error, PermanentError):  # Eskiz refused the credentials: say so, in its words
                said = exc.text if isinstance(exc, ProviderHTTPError) else str(exc)
                return IntegrationErrorResponse.of(
                    400,
                    f"eskiz_sms: Eskiz refused the login: {said} (check ESKIZ_EMAIL / ESKIZ_PASSWORD)",
                )
            raise error from None
        wait = self.ctx.settings.provider_timeout_seconds
        await token_cache(
            self.ctx.redis, self.ctx.settings.secret_key, self.cid, email, password, login_wait=wait
        ).store(token, TOKEN_TTL_SECONDS)
        result: dict[str, Any] = {"status": "connected"}
        try:
            balance = await eskiz.balance(token)
        except ProviderCallError as exc:  # optional: the login already proved the credentials
            log.info("%s: balance not read: %s", self.label, exc)
        else:
            if balance is not None:
                result["balance"] = balance
                if balance <= 0:
                    result["warning"] = "the Eskiz balance is empty: messages will be refused until it is topped up"
        return IntegrationSuccessResponse(result=result)

    def _client(self) -> EskizClient:
        return EskizClient(self.ctx.http, self.base_url, timeout=self.ctx.settings.provider_timeout_seconds)

    async def update_settings(self) -> IntegrationResult:
        return await self._check("settings updated")

    # --- sending -------------------------------------------------------------------------
    def callback_url(self, values: Any) -> str | None:
        global _warned_no_callback
        explicit = setting(values, "ESKIZ_CALLBACK_URL")
        if explicit:
            return explicit
        base = self.ctx.settings.public_base_url
        if not base:
            if not _warned_no_callback:
                _warned_no_callback = True
                log.warning(
                    "PUBLIC_BASE_URL and ESKIZ_CALLBACK_URL are not set: Eskiz sends go out without "
                    "callback_url, delivery reports are off"
                )
            return None
        sig = derive_token(self.ctx.settings.secret_key, SMS_CALLBACK_PURPOSE, self.cid)
        return f"{base.rstrip('/')}/clients/{self.key}/external/{quote(self.cid)}/delivery?{SIGNATURE_PARAM}={sig}"

    def _login_error(self, exc: ProviderCallError) -> IntegrationError:
        if isinstance(exc, ProviderHTTPError) and not exc.retryable:
            return PermanentError(
                f"{self.label}: {exc.what} refused: HTTP {exc.status}: {exc.text} (check ESKIZ_EMAIL / ESKIZ_PASSWORD)"
            )
        return TransientError(f"{self.label}: {exc}", retry_after=exc.retry_after)

    async def send_chunk(self, chunk_id: str, messages: list[OutgoingMessage]) -> list[MessageOutcome]:
        settings = self.ctx.settings
        values = await self.required_settings_map()
        email, password = setting(values, "ESKIZ_EMAIL") or "", setting(values, "ESKIZ_PASSWORD") or ""
        sender = setting(values, "ESKIZ_NICKNAME") or DEFAULT_SENDER
        callback_url = self.callback_url(values)
        eskiz = self._client()
        tokens = token_cache(
            self.ctx.redis, settings.secret_key, self.cid, email, password, login_wait=settings.provider_timeout_seconds
        )
        dispatch_id = dispatch_id_for(chunk_id)

        async def login() -> tuple[str, float]:
            try:
                return await eskiz.login(email, password), TOKEN_TTL_SECONDS
            except ProviderCallError as exc:  # a login has no side effect: any failure is "not sent"
                raise self._login_error(exc) from None

        async def with_token(what: str, call: Callable[[str], Awaitable[T]]) -> T:
            """`call(token)`; on HTTP 401 log in again once and retry once (401 = not acted)."""
            cached: CachedToken
            cached, _ = await tokens.obtain(login)
            for attempt in (1, 2):
                try:
                    return await call(cached.token)
                except ProviderHTTPError as exc:
                    if exc.status != 401:
                        raise
                    if attempt == 2:
                        raise PermanentError(
                            f"{self.label}: eskiz {what}: HTTP 401 again after a fresh login: {exc.text}"
                        ) from None
                    log.info("%s: token rejected (HTTP 401), logging in again", self.label)
                    await tokens.drop(cached)
                    cached, _ = await tokens.obtain(login, stale=cached)
            raise AssertionError("unreachable")

        async def send(pending: list[Pending]) -> str | None:
            items = [BatchItem(user_sms_id_for(p.effect_id), p.message.recipient, p.message.message) for p in pending]

            async def call(token: str) -> str | None:
                answer = await eskiz.send_batch(
                    token, items, sender=sender, dispatch_id=dispatch_id, callback_url=callback_url
                )
                return str(answer["id"]) if answer.get("id") not in (None, "") else None

            return await with_token("send-batch", call)

        async def reconcile(unknown: list[Pending]) -> dict[str, str | None]:
            wanted = {user_sms_id_for(p.effect_id): p for p in unknown}
            rows = await with_token(
                "get-user-messages-by-dispatch", lambda t: eskiz.messages_by_dispatch(t, dispatch_id)
            )
            found = [r for r in rows if str(r.get("user_sms_id") or "") in wanted]
            await self._record_found(found)
            return {wanted[str(r["user_sms_id"])].effect_id: str(r["user_sms_id"]) for r in found}

        result = await self.send_exactly_once(
            chunk_id,
            messages,
            send,
            provider_id=lambda p, request_id: user_sms_id_for(p.effect_id),
            reconcile=reconcile,
            announces_start=True,
        )
        await self._record_statuses(result.accepted, "waiting", result.request_id)
        await self._record_statuses(result.unknown, "unknown", None)
        return result.outcomes

    async def _record_found(self, rows: list[dict[str, Any]]) -> None:
        """Status rows for messages a reconciliation found at Eskiz: its ids and its status."""
        for row in rows:
            report = {
                "user_sms_id": row.get("user_sms_id"),
                "status": row.get("status") or "waiting",
                "request_id": row.get("request_id"),
                "message_id": row.get("id"),
                "phone_number": row.get("to"),
            }
            try:
                await status.apply_report(self.ctx.redis, self.cid, report, ttl=self.ctx.settings.pii_retention_seconds)
            except Exception as exc:  # the ledger is what prevents a resend; a status row is secondary
                log.warning("%s: could not record a reconciled status: %s", self.label, type(exc).__name__)

    async def _record_statuses(self, pending: list[Pending], state: str, request_id: str | None) -> None:
        if not pending:
            return
        try:
            await status.record_pending(
                self.ctx.redis,
                self.cid,
                [(user_sms_id_for(p.effect_id), p.message.recipient) for p in pending],
                ttl=self.ctx.settings.pii_retention_seconds,
                status=state,
                request_id=request_id,
            )
        except Exception as exc:  # the send is done; a missing status row must not resend it
            log.warning("%s: could not record %d %s statuses: %s", self.label, len(pending), state, type(exc).__name__)

    # --- delivery reports ----------------------------------------------------------------
    async def handle_external(self, request: ExternalRequest) -> IntegrationResult:
        parts = [p for p in request.path.strip("/").split("/") if p]
        if not parts or parts[-1] != "delivery" or (len(parts) > 1 and parts[-2].lower() != self.cid.lower()):
            return IntegrationErrorResponse.of(404, f"eskiz_sms: no external endpoint {request.path!r}")
        body = request.body
        reports = body if isinstance(body, list) else [body] if isinstance(body, dict) else None
        if reports is None:
            return IntegrationErrorResponse.of(400, "eskiz_sms delivery report: body is not a JSON/form object")
        updated = ignored = 0
        for report in reports[:MAX_REPORTS_PER_CALL]:
            applied = isinstance(report, dict) and await status.apply_report(
                self.ctx.redis, self.cid, report, ttl=self.ctx.settings.pii_retention_seconds
            )
            updated += bool(applied)
            ignored += not applied
        return IntegrationSuccessResponse(result={"updated": updated, "ignored": ignored})


__all__ = ["EskizSmsIntegration", "dispatch_id_for", "user_sms_id_for"]
