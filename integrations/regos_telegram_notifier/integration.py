"""REGOS → Telegram notifier: retail events to the shop owners' chats, plus SendMessages.

Webhooks (`DocChequeClosed`, `DocChequeCanceled`, `DocSessionOpened`, `DocSessionClosed`):
settings come from REGOS (`BOT_TOKEN`, `CHAT_IDS`, `CHEQUE_NOTIFICATION`, `STOCK_IDS`), the
document from the SDK, and one HTML message goes to every subscriber through
`integrations.telegram.sender` (rate-limited; at least once per (event, chat): after a crash
mid-send it is sent again, and `resent` counts those possible duplicates). With `STOCK_IDS` set,
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
from typing import Any, ClassVar

from integrations.base import TelegramIntegrationBase
from integrations.errors import PermanentError, SettingsError, TransientError
from integrations.guards import TELEGRAM_WEBHOOK_PURPOSE
from integrations.messages import mask
from integrations.regos_telegram_notifier import formatting as fmt
from integrations.regos_telegram_notifier import subscriptions as subs
from integrations.regos_telegram_notifier.config import BOT_TOKEN, NotifierConfig, parse_config
from integrations.signing import derive_token
from integrations.telegram.bot_api import BotAPI, TelegramAPIError, TelegramTransportError, token_fingerprint
from integrations.telegram.sender import Delivery, DeliveryResult, TelegramSender
from integrations.telegram.text import PARSE_MODE
from integrations.telegram.updates import Update, parse_update
from integrations.telegram.webhook import secret_token_problem, webhook_url_problem
from logconfig import register_secret
from regos_sdk import RegosAPI
from schemas.api.references.operating_cash import Stock
from schemas.envelope import (
    ExternalRequest,
    IntegrationErrorResponse,
    IntegrationResult,
    IntegrationSuccessResponse,
    MessageOutcome,
    OutgoingMessage,
    WebhookCall,
    canonical_action,
)
from settings import MissingSettingError

log = logging.getLogger(__name__)

# canonical (snake_case) action → REGOS event name
EVENTS = {
    canonical_action(name): name
    for name in (fmt.CHEQUE_CLOSED, fmt.CHEQUE_CANCELED, fmt.SESSION_OPENED, fmt.SESSION_CLOSED)
}
_LEFT = {"kicked", "left"}


class TelegramNotifierIntegration(TelegramIntegrationBase):
    key: ClassVar[str] = "regos_telegram_notifier"

    @property
    def label(self) -> str:
        return f"{self.key} for connected integration {self.cid}"

    # --- helpers -------------------------------------------------------------------------
    async def _values(self) -> Any:
        values = await self.settings_map()
        token = values.get(BOT_TOKEN)
        if token:
            register_secret(token.strip())
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
        token = ((await self._values()).get(BOT_TOKEN) or "").strip()
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
        event = EVENTS.get(canonical_action(webhook.action) or "")
        if event is None:
            return await super().handle_webhook(webhook)
        data = webhook.data if isinstance(webhook.data, dict) else {}
        uuid = data.get("uuid")
        if not isinstance(uuid, str) or not uuid.strip():
            return IntegrationErrorResponse.of(400, f"webhook {webhook.action} carries no data.uuid")
        uuid = uuid.strip()
        config = await self._config()
        if not config.chat_ids:
            return IntegrationSuccessResponse(result={"status": "no subscribers", "event": event})
        if event in fmt.CHEQUE_EVENTS and not config.cheque_notifications:
            return IntegrationSuccessResponse(result={"status": "cheque notifications are off", "event": event})
        text, skipped = await self._compose(event, uuid, config)
        if skipped:
            return IntegrationSuccessResponse(result={"status": "skipped", "event": event, "reason": skipped})
        assert text is not None
        key = self.ctx.event_id or f"{event}:{uuid}"
        deliveries = [Delivery(f"tg:{self.cid}:{key}:{chat}", chat, text, PARSE_MODE) for chat in config.chat_ids]
        results = await self._sender(config.bot_token).deliver(deliveries)
        changes = await self._apply_chat_changes(results)
        error = TelegramSender.transient_error(self.label, results)
        if error is not None:
            raise error
        return IntegrationSuccessResponse(result={"status": "done", "event": event, **_counts(results), **changes})

    async def _compose(self, event: str, uuid: str, config: NotifierConfig) -> tuple[str | None, str | None]:
        """(HTML text, None), or (None, why the event is skipped by STOCK_IDS)."""
        async with self.ctx.regos() as api:
            if event in fmt.CHEQUE_EVENTS:
                cheques = [c for c in await api.docs.cheque.get_by_uuids([uuid]) if c.uuid.lower() == uuid.lower()]
                if not cheques:
                    return self._not_found(event, uuid, config, "cheque"), None
                cheque = cheques[0]
                stock = None
                if config.stock_ids is not None:
                    what = f"cheque {uuid}"
                    if not cheque.session:
                        raise self._no_stock(what, "it has no cash session")
                    session = await self._session(api, cheque.session, what)
                    stock = await self._stock(api, session.operating_cash_id, what)
                    if stock.id not in config.stock_ids:
                        return None, f"stock {stock.id} is not in STOCK_IDS"
                return fmt.cheque_message(event, cheque, stock_name=stock.name if stock else None), None
            sessions = [s for s in await api.docs.cash_session.get_by_uuids([uuid]) if s.uuid.lower() == uuid.lower()]
            if not sessions:
                return self._not_found(event, uuid, config, "cash session"), None
            session = sessions[0]
            stock = None
            if config.stock_ids is not None:
                stock = await self._stock(api, session.operating_cash_id, f"cash session {uuid}")
                if stock.id not in config.stock_ids:
                    return None, f"stock {stock.id} is not in STOCK_IDS"
            return fmt.session_message(event, session, stock_name=stock.name if stock else None), None

    def _not_found(self, event: str, uuid: str, config: NotifierConfig, what: str) -> str:
        if config.stock_ids is not None:  # a filter is set: never tell every stock's subscribers
            raise self._no_stock(f"{what} {uuid}", "REGOS does not find the document")
        return fmt.not_found_message(event, uuid)

    def _no_stock(self, what: str, why: str) -> PermanentError:
        return PermanentError(
            f"{self.label}: the stock of {what} cannot be determined ({why}), so STOCK_IDS cannot be applied; "
            "nothing was sent"
        )

    async def _session(self, api: RegosAPI, session_uuid: str, what: str) -> Any:
        found = [s for s in await api.docs.cash_session.get_by_uuids([session_uuid]) if s.uuid == session_uuid]
        if not found:
            raise self._no_stock(what, f"cash session {session_uuid} not found in REGOS")
        return found[0]

    async def _stock(self, api: RegosAPI, operating_cash_id: int, what: str) -> Stock:
        found = [
            o for o in await api.references.operating_cash.get(ids=[operating_cash_id]) if o.id == operating_cash_id
        ]
        if not found:
            raise self._no_stock(what, f"operating cash {operating_cash_id} not found in REGOS")
        if found[0].stock is None:
            raise self._no_stock(what, f"operating cash {operating_cash_id} has no stock")
        return found[0].stock

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
            ", ".join(mask(c) for c in sorted(gone)),
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
        values = await self._values()
        token = (values.get(BOT_TOKEN) or "").strip()
        if not token:
            raise SettingsError(f"{self.label}: setting BOT_TOKEN is missing in REGOS")
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
            result={"status": status, "chat": mask(chat_id), "replied": results[0].delivered}
        )

    async def _membership(self, update: Update) -> IntegrationResult:
        """The bot was blocked / removed from a chat: drop it from CHAT_IDS right away."""
        chat_id = update.chat_id
        if update.member_status not in _LEFT or chat_id is None:
            return IntegrationSuccessResponse(result={"status": "ignored", "update": update.kind})
        before, _ = await subs.edit_chat_ids(self.ctx, subs.remove(chat_id), label=self.label)
        status = "unsubscribed" if chat_id in before else "not subscribed"
        return IntegrationSuccessResponse(result={"status": status, "chat": mask(chat_id)})

    # --- SendMessages --------------------------------------------------------------------
    async def send_chunk(self, chunk_id: str, messages: list[OutgoingMessage]) -> list[MessageOutcome]:
        token = ((await self._values()).get(BOT_TOKEN) or "").strip()
        if not token:
            raise SettingsError(f"{self.label}: setting BOT_TOKEN is missing in REGOS")
        deliveries = [
            Delivery(self.effect_id(chunk_id, m), m.recipient, m.message, None, m.image_url) for m in messages
        ]
        results = await self._sender(token).deliver(deliveries)
        error = TelegramSender.transient_error(self.label, results)
        if error is not None:
            raise error
        return [_outcome(m, r) for m, r in zip(messages, results, strict=True)]


def _outcome(message: OutgoingMessage, result: DeliveryResult) -> MessageOutcome:
    status = "accepted" if result.delivered else result.status
    if status not in ("accepted", "unknown"):
        status = "failed"
    return MessageOutcome(
        index=message.index,
        recipient=mask(message.recipient),
        status=status,  # type: ignore[arg-type]
        provider_id=result.message_id,
        error=None if status == "accepted" else result.error,
        resolution="resent" if result.resent else None,  # an earlier unknown, sent again: maybe twice
    )


def _counts(results: list[DeliveryResult]) -> dict[str, int]:
    """`resent`: of `sent`, those sent again after an attempt whose outcome was unknown (each may
    have reached the chat twice)."""
    counts = {"subscribers": len(results), "sent": 0, "already_sent": 0, "failed": 0, "unknown": 0, "resent": 0}
    for r in results:
        key = {"sent": "sent", "duplicate": "already_sent", "unknown": "unknown"}.get(r.status, "failed")
        counts[key] += 1
        counts["resent"] += r.resent
    return counts
