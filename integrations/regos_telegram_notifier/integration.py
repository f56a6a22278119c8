"""REGOS → Telegram notifier: retail events to the shop owners' chats, plus SendMessages.

Webhooks (`DocChequeClosed`, `DocChequeCanceled`, `DocSessionOpened`, `DocSessionClosed`):
settings come from REGOS (`BOT_TOKEN`, `CHAT_IDS`, `CHEQUE_NOTIFICATION`, `STOCK_IDS`), the
document from the SDK, and one HTML message goes to every subscriber through
`integrations.telegram.sender` (rate-limited; at least once per (event, chat): after a crash
mid-send it is sent again, and `resent` counts those possible duplicates). A batch of webhooks
(`handle_webhooks`) reads settings once and each REGOS list once (`documents`), and sends each
chat ONE digest of its waiting notifications (split at notification boundaries past 4,096
characters); each event gets its own result, with what happened in each chat. With `STOCK_IDS` set,
the document's stock is resolved (cheque → cash session → operating cash → stock); if it
cannot be, the event fails with PermanentError rather than reaching every stock's subscribers.
Blocked / deleted chats are removed from `CHAT_IDS` and migrated groups replaced (serialized
read-modify-write, see `subscriptions`).

Telegram updates arrive on `/clients/regos_telegram_notifier/external/{cid}` (the ingress checks
the secret token and dedupes by update_id): `/start` subscribes the chat, `/stop` unsubscribes it;
every other update kind (edited_message, channel_post, callback_query, ...) is ignored with an ok
result. `Connect` refuses a PUBLIC_BASE_URL Telegram would refuse before calling it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from integrations.base import UNSUPPORTED, TelegramIntegrationBase
from integrations.connected_settings import setting
from integrations.errors import PermanentError, SettingsError, TransientError
from integrations.guards import TELEGRAM_WEBHOOK_PURPOSE
from integrations.regos_telegram_notifier import formatting as fmt
from integrations.regos_telegram_notifier import subscriptions as subs
from integrations.regos_telegram_notifier.config import BOT_TOKEN, NotifierConfig, bot_token, parse_config
from integrations.regos_telegram_notifier.documents import Documents, fetch_documents
from integrations.signing import derive_token
from integrations.telegram.bot_api import BotAPI, TelegramAPIError, TelegramTransportError, token_fingerprint
from integrations.telegram.sender import Delivery, DeliveryResult, TelegramSender
from integrations.telegram.text import PARSE_MODE
from integrations.telegram.updates import Update, parse_update
from integrations.telegram.webhook import secret_token_problem, webhook_url_problem
from logconfig import register_secret
from schemas.api.references.operating_cash import Stock
from schemas.envelope import (
    ExternalRequest,
    IntegrationErrorResponse,
    IntegrationResult,
    IntegrationSuccessResponse,
    MessageOutcome,
    OutgoingMessage,
    WebhookCall,
    WebhookEvent,
    canonical_action,
    mask_recipient,
)
from schemas.message_state import message_status
from settings import MissingSettingError

log = logging.getLogger(__name__)

# canonical (snake_case) action → REGOS event name
EVENTS = {
    canonical_action(name): name
    for name in (fmt.CHEQUE_CLOSED, fmt.CHEQUE_CANCELED, fmt.SESSION_OPENED, fmt.SESSION_CLOSED)
}
_LEFT = {"kicked", "left"}


@dataclass(frozen=True)
class _Notice:
    """A supported event of a batch: its position, REGOS event name, document uuid and effect key."""

    n: int
    event: str
    uuid: str
    key: str


class TelegramNotifierIntegration(TelegramIntegrationBase):
    key: ClassVar[str] = "regos_telegram_notifier"

    # --- helpers -------------------------------------------------------------------------
    async def _values(self) -> Mapping[str, str]:
        values = await self.settings_map()
        token = setting(values, BOT_TOKEN)
        if token:
            register_secret(token)
        return values

    async def _config(self) -> NotifierConfig:
        return parse_config(await self._values(), self.label)

    def _sender(self, token: str, **kw: Any) -> TelegramSender:
        return TelegramSender(
            redis=self.ctx.redis, http=self.ctx.http, settings=self.ctx.settings, token=token, label=self.label, **kw
        )

    def _bot(self, token: str) -> BotAPI:
        s = self.ctx.settings
        return BotAPI(self.ctx.http, s.telegram_api_base_url, token, timeout=s.provider_timeout_seconds)

    def webhook_url(self) -> str:
        return f"{self.ctx.settings.require_public_base_url()}/clients/{self.key}/external/{self.cid}"

    def webhook_secret(self) -> str:
        """Derived, never stored; must fit setWebhook's `secret_token` rule (see telegram.webhook)."""
        secret = derive_token(self.ctx.settings.secret_key, TELEGRAM_WEBHOOK_PURPOSE, self.cid)
        problem = secret_token_problem(secret)
        if problem is not None:  # a change to derive_token must never reach Telegram as a 400
            raise PermanentError(f"{self.label}: {problem}")
        return secret

    # --- lifecycle -----------------------------------------------------------------------
    async def connect(self) -> IntegrationResult:
        """Checks PUBLIC_BASE_URL against Telegram's webhook rules (no call), then the token
        live (`getMe`), then registers the webhook; Telegram's own words when it refuses."""
        try:
            config = await self._config()
            url = self.webhook_url()
        except (SettingsError, MissingSettingError) as exc:
            return IntegrationErrorResponse.of(400, str(exc))
        problem = webhook_url_problem(url)
        if problem is not None:
            return IntegrationErrorResponse.of(
                400, f"{self.label}: PUBLIC_BASE_URL cannot receive Telegram updates: {problem}"
            )
        secret = self.webhook_secret()
        bot = self._bot(config.bot_token)
        try:
            me = await bot.get_me()
            await bot.set_webhook(url, secret_token=secret)
        except TelegramAPIError as exc:
            if exc.unauthorized:
                return IntegrationErrorResponse.of(
                    401, f"{self.label}: Telegram rejected BOT_TOKEN ({exc.method}): {exc.description}"
                )
            if exc.server_side or exc.retry_after is not None:
                raise TransientError(f"{self.label}: {exc}", retry_after=exc.retry_after) from None
            return IntegrationErrorResponse.of(400, f"{self.label}: {exc}")
        except TelegramTransportError as exc:
            raise TransientError(f"{self.label}: {exc}") from None
        await subs.remember_registration(self.ctx, config.bot_token)
        username = me.get("username") if isinstance(me, dict) else None
        log.info("%s: webhook registered for bot %s", self.label, token_fingerprint(config.bot_token))
        return IntegrationSuccessResponse(
            result={"status": "connected", "bot": f"@{username}" if username else None, "webhook": url}
        )

    async def reconnect(self) -> IntegrationResult:
        return await self.connect()  # setWebhook replaces the old registration: no gap

    async def disconnect(self) -> IntegrationResult:
        token = setting(await self._values(), BOT_TOKEN)
        await subs.forget_registration(self.ctx)
        if not token:
            return IntegrationSuccessResponse(result={"status": "disconnected"})
        try:
            await self._bot(token).delete_webhook()
        except TelegramAPIError as exc:
            if exc.unauthorized:
                return IntegrationSuccessResponse(
                    result={"status": "disconnected", "note": "Telegram rejected BOT_TOKEN; webhook not removed"}
                )
            if exc.server_side or exc.retry_after is not None:
                raise TransientError(f"{self.label}: {exc}", retry_after=exc.retry_after) from None
            return IntegrationErrorResponse.of(400, f"{self.label}: {exc}")
        except TelegramTransportError as exc:
            raise TransientError(f"{self.label}: {exc}") from None
        return IntegrationSuccessResponse(result={"status": "disconnected"})

    async def update_settings(self) -> IntegrationResult:
        try:
            config = await self._config()
        except SettingsError as exc:
            return IntegrationErrorResponse.of(400, str(exc))
        if await subs.registered_fingerprint(self.ctx) != token_fingerprint(config.bot_token):
            result = await self.connect()
            if isinstance(result, IntegrationErrorResponse):
                return result
            return IntegrationSuccessResponse(result={"status": "settings updated", "webhook": "re-registered"})
        return IntegrationSuccessResponse(result={"status": "settings updated"})

    # --- webhooks ------------------------------------------------------------------------
    async def handle_webhook(self, webhook: WebhookCall) -> IntegrationResult:
        """One webhook: a batch of one (the same path and result)."""
        [outcome] = await self.handle_webhooks([WebhookEvent(call=webhook, event_id=self.ctx.event_id)])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def handle_webhooks(self, events: Sequence[WebhookEvent]) -> list[IntegrationResult | Exception]:
        """A batch of this connected integration's events: settings once, each REGOS list once
        (`documents`), and per chat one digest message for the notifications waiting for it
        (`TelegramSender.deliver(digest=True)`; exactly once per (event, chat)). Each event gets
        its own result or exception; what fails for one event never fails the others."""
        outcomes: list[IntegrationResult | Exception | None] = [None] * len(events)
        notices: list[_Notice] = []
        for n, event in enumerate(events):
            parsed = self._notice(n, event)
            if isinstance(parsed, _Notice):
                notices.append(parsed)
            else:
                outcomes[n] = parsed
        if notices:
            await self._notify(notices, outcomes)
        return [o for o in outcomes if o is not None]

    def _notice(self, n: int, event: WebhookEvent) -> _Notice | IntegrationResult:
        webhook = event.call
        name = EVENTS.get(canonical_action(webhook.action) or "")
        if name is None:
            return IntegrationErrorResponse.of(UNSUPPORTED, f"unsupported webhook {webhook.action} for {self.key}")
        data = webhook.data if isinstance(webhook.data, dict) else {}
        uuid = data.get("uuid")
        if not isinstance(uuid, str) or not uuid.strip():
            return IntegrationErrorResponse.of(400, f"webhook {webhook.action} carries no data.uuid")
        uuid = uuid.strip()
        return _Notice(n, name, uuid, event.event_id or f"{name}:{uuid}")

    async def _notify(self, notices: list[_Notice], outcomes: list[IntegrationResult | Exception | None]) -> None:
        try:
            config = await self._config()
        except Exception as exc:  # every event of the batch needs the settings
            for notice in notices:
                outcomes[notice.n] = exc
            return
        texts: list[tuple[_Notice, str]] = []
        wanted = await self._wanted(notices, config, outcomes)
        if wanted:
            async with self.ctx.regos() as api:
                docs = await fetch_documents(
                    api,
                    [x.uuid for x in wanted if x.event in fmt.CHEQUE_EVENTS],
                    [x.uuid for x in wanted if x.event in fmt.SESSION_EVENTS],
                    with_stocks=config.stock_ids is not None,
                )
            for notice in wanted:
                try:
                    text, skipped = self._compose(notice, config, docs)
                except Exception as exc:  # this event's document is poisoned; the others go on
                    outcomes[notice.n] = exc
                    continue
                if skipped:
                    outcomes[notice.n] = IntegrationSuccessResponse(
                        result={"status": "skipped", "event": notice.event, "reason": skipped}
                    )
                else:
                    assert text is not None
                    texts.append((notice, text))
        if texts:
            await self._deliver(texts, config, outcomes)

    async def _wanted(
        self, notices: list[_Notice], config: NotifierConfig, outcomes: list[IntegrationResult | Exception | None]
    ) -> list[_Notice]:
        """The notices that need a document; the others get their result now."""
        wanted: list[_Notice] = []
        for notice in notices:
            if not config.chat_ids:
                outcomes[notice.n] = IntegrationSuccessResponse(
                    result={"status": "no subscribers", "event": notice.event}
                )
            elif notice.event in fmt.CHEQUE_EVENTS and not config.cheque_notifications:
                outcomes[notice.n] = IntegrationSuccessResponse(
                    result={"status": "cheque notifications are off", "event": notice.event}
                )
            else:
                wanted.append(notice)
        return wanted

    async def _deliver(
        self,
        texts: list[tuple[_Notice, str]],
        config: NotifierConfig,
        outcomes: list[IntegrationResult | Exception | None],
    ) -> None:
        """Every notice to every subscriber, digests per chat; then each event's own result."""
        deliveries = [
            Delivery(f"tg:{self.cid}:{notice.key}:{chat}", chat, text, PARSE_MODE)
            for notice, text in texts
            for chat in config.chat_ids
        ]
        try:
            results = await self._sender(config.bot_token).deliver(deliveries, digest=True)
        except Exception as exc:  # the bot token was rejected, or Redis failed: no event was done
            for notice, _ in texts:
                outcomes[notice.n] = exc
            return
        changes_error: Exception | None = None
        try:
            await self._apply_chat_changes(results)
        except Exception as exc:  # only the events that found a gone or moved chat must retry
            changes_error = exc
        per_event = len(config.chat_ids)
        for k, (notice, _) in enumerate(texts):
            mine = results[k * per_event : (k + 1) * per_event]
            changes = _changes(mine)
            error = TelegramSender.transient_error(self.label, mine) or (changes_error if changes else None)
            outcomes[notice.n] = error or IntegrationSuccessResponse(
                result={
                    "status": "done",
                    "event": notice.event,
                    **_counts(mine),
                    **changes,
                    "chats": [_chat_report(r) for r in mine],
                }
            )

    def _compose(self, notice: _Notice, config: NotifierConfig, docs: Documents) -> tuple[str | None, str | None]:
        """(HTML text, None), or (None, why the event is skipped by STOCK_IDS)."""
        event, uuid = notice.event, notice.uuid
        if event in fmt.CHEQUE_EVENTS:
            cheque = docs.cheque(uuid)
            if cheque is None:
                return self._not_found(event, uuid, config, "cheque"), None
            stock = None
            if config.stock_ids is not None:
                what = f"cheque {uuid}"
                if not cheque.session:
                    raise self._no_stock(what, "it has no cash session")
                session = docs.session(cheque.session)
                if session is None:
                    raise self._no_stock(what, f"cash session {cheque.session} not found in REGOS")
                stock = self._stock(docs, session.operating_cash_id, what)
                if stock.id not in config.stock_ids:
                    return None, f"stock {stock.id} is not in STOCK_IDS"
            return fmt.cheque_message(event, cheque, stock_name=stock.name if stock else None), None
        found = docs.session(uuid)
        if found is None:
            return self._not_found(event, uuid, config, "cash session"), None
        stock = None
        if config.stock_ids is not None:
            stock = self._stock(docs, found.operating_cash_id, f"cash session {uuid}")
            if stock.id not in config.stock_ids:
                return None, f"stock {stock.id} is not in STOCK_IDS"
        return fmt.session_message(event, found, stock_name=stock.name if stock else None), None

    def _not_found(self, event: str, uuid: str, config: NotifierConfig, what: str) -> str:
        if config.stock_ids is not None:  # a filter is set: never tell every stock's subscribers
            raise self._no_stock(f"{what} {uuid}", "REGOS does not find the document")
        return fmt.not_found_message(event, uuid)

    def _no_stock(self, what: str, why: str) -> PermanentError:
        return PermanentError(
            f"{self.label}: the stock of {what} cannot be determined ({why}), so STOCK_IDS cannot be applied; "
            "nothing was sent"
        )

    def _stock(self, docs: Documents, operating_cash_id: int, what: str) -> Stock:
        cash = docs.cash(operating_cash_id)
        if cash is None:
            raise self._no_stock(what, f"operating cash {operating_cash_id} not found in REGOS")
        if cash.stock is None:
            raise self._no_stock(what, f"operating cash {operating_cash_id} has no stock")
        return cash.stock

    async def _apply_chat_changes(self, results: list[DeliveryResult]) -> dict[str, int]:
        gone = {r.delivery.chat_id for r in results if r.chat_gone}
        moved = {r.delivery.chat_id: r.migrated_to for r in results if r.migrated_to and not r.chat_gone}
        if not gone and not moved:
            return {}
        before, _ = await subs.edit_chat_ids(self.ctx, subs.replace_ids(moved, gone), label=self.label)
        log.info(
            "%s: CHAT_IDS edited: %d removed (%s), %d migrated",
            self.label,
            len(gone & set(before)),
            ", ".join(mask_recipient(c) for c in sorted(gone)),
            len(moved),
        )
        return {"removed": len(gone), "migrated": len(moved)}

    # --- Telegram updates ----------------------------------------------------------------
    async def handle_external(self, request: ExternalRequest) -> IntegrationResult:
        """`/start`, `/stop` and the bot's own membership; every other update kind is ignored (ok)."""
        update = parse_update(request.body)
        if update.kind == "my_chat_member":
            return await self._membership(update)
        command = update.command if update.kind == "message" else ""
        if command not in ("/start", "/stop") or update.chat_id is None:
            return IntegrationSuccessResponse(result={"status": "ignored", "update": update.kind})
        chat_id = update.chat_id
        token = bot_token(await self._values(), self.label)
        if command == "/start":
            before, _ = await subs.edit_chat_ids(self.ctx, subs.add(chat_id), label=self.label)
            status = "already subscribed" if chat_id in before else "subscribed"
            reply = fmt.ALREADY_SUBSCRIBED if chat_id in before else fmt.SUBSCRIBED
        else:
            before, _ = await subs.edit_chat_ids(self.ctx, subs.remove(chat_id), label=self.label)
            status = "unsubscribed" if chat_id in before else "not subscribed"
            reply = fmt.UNSUBSCRIBED
        ref = (
            str(update.update_id)
            if update.update_id is not None
            else hashlib.sha256(repr(request.body).encode()).hexdigest()[:16]
        )
        results = await self._sender(token).deliver([Delivery(f"tg:{self.cid}:upd:{ref}:{chat_id}", chat_id, reply)])
        error = TelegramSender.transient_error(self.label, results)
        if error is not None:
            raise error
        return IntegrationSuccessResponse(
            result={"status": status, "chat": mask_recipient(chat_id), "replied": results[0].delivered}
        )

    async def _membership(self, update: Update) -> IntegrationResult:
        """The bot was blocked / removed from a chat: drop it from CHAT_IDS right away."""
        chat_id = update.chat_id
        if update.member_status not in _LEFT or chat_id is None:
            return IntegrationSuccessResponse(result={"status": "ignored", "update": update.kind})
        before, _ = await subs.edit_chat_ids(self.ctx, subs.remove(chat_id), label=self.label)
        status = "unsubscribed" if chat_id in before else "not subscribed"
        return IntegrationSuccessResponse(result={"status": status, "chat": mask_recipient(chat_id)})

    # --- SendMessages --------------------------------------------------------------------
    async def send_chunk(self, chunk_id: str, messages: list[OutgoingMessage]) -> list[MessageOutcome]:
        token = bot_token(await self._values(), self.label)
        deliveries = [
            Delivery(self.effect_id(chunk_id, m), m.recipient, m.message, None, m.image_url) for m in messages
        ]
        results = await self._sender(token).deliver(deliveries)
        error = TelegramSender.transient_error(self.label, results)
        if error is not None:
            raise error
        return [_outcome(m, r) for m, r in zip(messages, results, strict=True)]


def _outcome(message: OutgoingMessage, result: DeliveryResult) -> MessageOutcome:
    status = message_status(result.status)
    return MessageOutcome(
        index=message.index,
        recipient=mask_recipient(message.recipient),
        status=status,
        provider_id=result.message_id,
        error=None if status == "accepted" else result.error,
        resolution="resent" if result.resent else None,  # an earlier unknown, sent again: maybe twice
    )


def _counts(results: list[DeliveryResult]) -> dict[str, int]:
    """`resent`: of `sent`, those sent again after an attempt whose outcome was unknown (each may
    have reached the chat twice)."""
    counts = {"subscribers": len(results), "sent": 0, "already_sent": 0, "failed": 0, "unknown": 0, "resent": 0}
    for r in results:
        # a deferred delivery that reaches the counts was not retried into a send: failed
        counts["failed" if r.status == "deferred" else r.status] += 1
        counts["resent"] += r.resent
    return counts


def _changes(results: list[DeliveryResult]) -> dict[str, int]:
    """Gone (removed from CHAT_IDS) and migrated chats among one event's deliveries."""
    gone = {r.delivery.chat_id for r in results if r.chat_gone}
    moved = {r.delivery.chat_id for r in results if r.migrated_to and not r.chat_gone}
    return {"removed": len(gone), "migrated": len(moved)} if gone or moved else {}


def _chat_report(result: DeliveryResult) -> dict[str, Any]:
    """What happened to one notification in one chat (masked chat id)."""
    # The report's words predate `DeliveryStatus`: `already sent` is its `already_sent`.
    status = "already sent" if result.status == "already_sent" else result.status
    report: dict[str, Any] = {"chat": mask_recipient(result.delivery.chat_id), "status": status}
    if result.message_id is not None:
        report["message_id"] = result.message_id
    if result.in_digest:
        report["digest"] = result.in_digest
    return report
