"""A small async client of the Telegram Bot API with typed errors.

Every call is `POST {base}/bot{token}/{method}` with JSON. The bot token is part of every URL,
so it must never reach a log line, an exception or a result:

- importing this module installs `BotTokenLogFilter` on the "httpx2" logger (httpx2 logs each
  request URL at INFO), which rewrites `/bot<token>/` to `/bot***/`;
- errors carry the method, the masked chat id, Telegram's `error_code` and `description`,
  never the URL; the token is also redacted from any description Telegram sends back;
- Redis keys and log lines name a bot by `token_fingerprint(token)` (a short sha256).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import httpx2
import orjson

from kit.http_outcome import OutcomeUnknown, transport_failure
from kit.redaction import redact
from schemas.envelope import mask_recipient


class BotTokenLogFilter(logging.Filter):
    """Masks bot tokens in Bot API URLs of any record passing through the logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the logging machinery
            return True
        if "/bot" in message:
            record.msg = redact(message)
            record.args = None
        return True


def install_log_filter() -> None:
    for name in ("httpx2", "httpcore2"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, BotTokenLogFilter) for f in logger.filters):
            logger.addFilter(BotTokenLogFilter())


install_log_filter()


def token_fingerprint(token: str) -> str:
    """A short, stable, non-reversible name of a bot token for Redis keys and logs."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


# --- errors ------------------------------------------------------------------------------


class TelegramError(Exception):
    """Base of the client's errors; the message never contains the token."""

    def __init__(self, message: str, *, method: str, chat_id: str | None = None) -> None:
        super().__init__(message)
        self.method = method
        self.chat_id = chat_id


class TelegramTransportError(TelegramError):
    """No answer from Telegram. `maybe_sent`: the request may have reached Telegram (a read
    timeout or a dropped connection after sending), so its effect is unknown."""

    def __init__(self, message: str, *, method: str, chat_id: str | None = None, maybe_sent: bool) -> None:
        super().__init__(message, method=method, chat_id=chat_id)
        self.maybe_sent = maybe_sent


class TelegramAPIError(TelegramError):
    """Telegram answered `ok: false` (or a non-JSON error page)."""

    def __init__(
        self,
        *,
        method: str,
        chat_id: str | None,
        error_code: int,
        description: str,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        where = f" for chat {mask_recipient(chat_id)}" if chat_id else ""
        super().__init__(f"Telegram {method}{where}: error {error_code}: {description}", method=method, chat_id=chat_id)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters or {}

    @property
    def retry_after(self) -> float | None:
        value = self.parameters.get("retry_after")
        if self.error_code == 429:
            return float(value) if isinstance(value, int | float) else 1.0
        return None

    @property
    def migrate_to_chat_id(self) -> str | None:
        value = self.parameters.get("migrate_to_chat_id")
        return str(value) if value is not None else None

    @property
    def unauthorized(self) -> bool:
        """The bot token is invalid or revoked (Telegram says 401, or 404 for a malformed one)."""
        return self.error_code in (401, 404)

    @property
    def cant_parse_entities(self) -> bool:
        return self.error_code == 400 and "can't parse entities" in self.description.lower()

    @property
    def chat_gone(self) -> bool:
        """The subscriber is gone for good: blocked, deactivated, kicked, chat not found."""
        text = self.description.lower()
        if self.error_code == 403:
            return True
        return self.error_code == 400 and any(
            s in text for s in ("chat not found", "user not found", "group chat was deleted", "peer_id_invalid")
        )

    @property
    def server_side(self) -> bool:
        return self.error_code >= 500


# --- client ------------------------------------------------------------------------------


class BotAPI:
    """Bound to one bot token. Cheap: build one per unit of work around a shared httpx2 client."""

    def __init__(self, http: httpx2.AsyncClient, base_url: str, token: str, *, timeout: float = 15.0) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self.fingerprint = token_fingerprint(token)

    def _clean(self, text: str) -> str:
        return redact(text, [self._token])

    async def call(self, method: str, payload: dict[str, Any] | None = None, *, chat_id: str | None = None) -> Any:
        """`result` of a successful call; raises TelegramAPIError / TelegramTransportError."""
        url = f"{self._base}/bot{self._token}/{method}"
        try:
            response = await self._http.post(
                url,
                content=orjson.dumps(payload or {}),
                headers={"Content-Type": "application/json"},
                timeout=self._timeout,
            )
        except httpx2.HTTPError as exc:
            outcome = transport_failure(f"Telegram {method}{_for(chat_id)}", exc)
            maybe_sent = isinstance(outcome, OutcomeUnknown)
            said = "no answer" if maybe_sent else "could not connect"
            raise TelegramTransportError(
                f"{outcome.what}: {said} ({type(exc).__name__})", method=method, chat_id=chat_id, maybe_sent=maybe_sent
            ) from None
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = None
        if isinstance(body, dict) and body.get("ok") is True:
            return body.get("result")
        if isinstance(body, dict):
            code = body.get("error_code")
            raise TelegramAPIError(
                method=method,
                chat_id=chat_id,
                error_code=code if isinstance(code, int) else response.status_code,
                description=self._clean(str(body.get("description") or "")) or f"HTTP {response.status_code}",
                parameters=body.get("parameters") if isinstance(body.get("parameters"), dict) else None,
            )
        raise TelegramAPIError(
            method=method,
            chat_id=chat_id,
            error_code=response.status_code,
            description=f"HTTP {response.status_code} with a non-JSON body",
        )

    # --- methods -------------------------------------------------------------------------
    async def send_message(
        self, chat_id: str, text: str, *, parse_mode: str | None = None, reply_markup: Any = None
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "chat_id": _chat(chat_id),
            "text": text,
            "link_preview_options": {"is_disabled": True},
        }
        if parse_mode:
            payload["parse_mode"] = parse_mode
        if reply_markup is not None:
            payload["reply_markup"] = reply_markup
        return await self.call("sendMessage", payload, chat_id=chat_id)

    async def send_photo(
        self, chat_id: str, photo: str, *, caption: str | None = None, parse_mode: str | None = None
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"chat_id": _chat(chat_id), "photo": photo}
        if caption:
            payload["caption"] = caption
            if parse_mode:
                payload["parse_mode"] = parse_mode
        return await self.call("sendPhoto", payload, chat_id=chat_id)

    async def set_webhook(
        self, url: str, *, secret_token: str | None = None, drop_pending_updates: bool = False
    ) -> bool:
        payload: dict[str, Any] = {"url": url, "allowed_updates": ["message", "my_chat_member"]}
        if secret_token:
            payload["secret_token"] = secret_token
        if drop_pending_updates:
            payload["drop_pending_updates"] = True
        return bool(await self.call("setWebhook", payload))

    async def delete_webhook(self, *, drop_pending_updates: bool = False) -> bool:
        return bool(await self.call("deleteWebhook", {"drop_pending_updates": drop_pending_updates}))

    async def get_me(self) -> dict[str, Any]:
        return await self.call("getMe")

    async def get_webhook_info(self) -> dict[str, Any]:
        return await self.call("getWebhookInfo")


def _for(chat_id: str | None) -> str:
    return f" for chat {mask_recipient(chat_id)}" if chat_id else ""


def _chat(chat_id: str) -> int | str:
    """Numeric ids go as numbers, `@channel` names as strings."""
    try:
        return int(chat_id)
    except ValueError:
        return chat_id
