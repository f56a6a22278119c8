"""A fake Telegram Bot API over real HTTP.

    tg = FakeTelegram().start()
    tg.add_bot("123:ABC")
    ... Settings(telegram_api_base_url=tg.url) ...
    assert [m["text"] for m in tg.sent("42")] == [...]

Serves `POST /bot{token}/{method}` (JSON) for sendMessage, sendPhoto, setWebhook, deleteWebhook,
getMe, getWebhookInfo. Unknown tokens → 401 `Unauthorized`. Validates like Telegram: text
≤ 4096 and caption ≤ 1024 (UTF-16 units), HTML markup (unknown tags or a bare `<`, `>`, `&`
→ 400 "can't parse entities").

Scriptable per chat: `block(chat)` → 403 "Forbidden: bot was blocked by the user";
`missing(chat)` → 400 "Bad Request: chat not found"; `migrate(chat, new_id)` → 400 with
`parameters.migrate_to_chat_id`; `rate_limit(chat, retry_after, times)` → 429 with
`parameters.retry_after`; `reject_entities(times)` → the next `times` calls with a parse_mode
get 400 "can't parse entities". Recording: `messages` (dicts with token, chat_id, text,
parse_mode, method, photo, message_id, at), `sent(chat_id)`, `attempts` (every send call, also
refused ones), `webhooks` (token → {url, secret_token}), `deleted_webhooks` (tokens).
"""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

from tests.fakes.base import FakeServer, Recorded, Reply

_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)$")
_ALLOWED_TAG = re.compile(
    r"</?(b|strong|i|em|u|ins|s|strike|del|code|pre|tg-spoiler|blockquote)>|<a href=\"[^\"<>]*\">|</a>"
)
_ENTITY = re.compile(r"&(amp|lt|gt|quot|#\d+|#x[0-9a-fA-F]+);")


def _utf16(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _html_ok(text: str) -> bool:
    bare = _ENTITY.sub("", _ALLOWED_TAG.sub("", text))
    return not any(ch in bare for ch in "<>&")


class FakeTelegram(FakeServer):
    def __init__(self, latency: float = 0.0, port: int = 0) -> None:
        super().__init__(latency=latency, port=port)
        self.bots: dict[str, dict[str, Any]] = {}
        self.messages: list[dict[str, Any]] = []
        self.attempts: list[dict[str, Any]] = []
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.deleted_webhooks: list[str] = []
        self._ids = itertools.count(1)
        self._bot_ids = itertools.count(1000)
        self._blocked: set[str] = set()
        self._missing: set[str] = set()
        self._migrations: dict[str, str] = {}
        self._rate_limits: dict[str, list[float]] = {}  # chat → [retry_after, remaining]
        self._reject_entities = 0

    # --- setup / scripting ---------------------------------------------------------------
    def add_bot(self, token: str, username: str | None = None) -> str:
        with self.lock:
            bot_id = next(self._bot_ids)
            self.bots[token] = {
                "id": bot_id,
                "is_bot": True,
                "first_name": "Shop bot",
                "username": username or f"shop{bot_id}_bot",
            }
        return token

    def block(self, chat_id: Any) -> None:
        with self.lock:
            self._blocked.add(str(chat_id))

    def missing(self, chat_id: Any) -> None:
        with self.lock:
            self._missing.add(str(chat_id))

    def migrate(self, chat_id: Any, new_id: Any) -> None:
        with self.lock:
            self._migrations[str(chat_id)] = str(new_id)

    def rate_limit(self, chat_id: Any, retry_after: float = 1, times: int = 1) -> None:
        with self.lock:
            self._rate_limits[str(chat_id)] = [retry_after, times]

    def reject_entities(self, times: int = 1) -> None:
        with self.lock:
            self._reject_entities = times

    def clear_faults(self) -> None:
        super().clear_faults()
        with self.lock:
            self._blocked.clear()
            self._missing.clear()
            self._migrations.clear()
            self._rate_limits.clear()
            self._reject_entities = 0

    # --- reading -------------------------------------------------------------------------
    def sent(self, chat_id: Any, token: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.messages if m["chat_id"] == str(chat_id) and (token is None or m["token"] == token)]

    def texts(self, chat_id: Any) -> list[str]:
        return [m["text"] for m in self.sent(chat_id)]

    # --- HTTP ----------------------------------------------------------------------------
    @staticmethod
    def _error(status: int, description: str, **parameters: Any) -> Reply:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return Reply(status, body)

    def handle(self, request: Recorded) -> Reply:
        match = _PATH.match(request.path)
        if request.method != "POST" or not match:
            return self._error(404, "Not Found")
        token, method = match["token"], match["method"]
        try:
            body = request.json() or {}
        except ValueError:
            return self._error(400, "Bad Request: invalid JSON")
        with self.lock:
            if token not in self.bots:
                return self._error(401, "Unauthorized")
            handler = {
                "sendMessage": self._send,
                "sendPhoto": self._send,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getMe": self._get_me,
                "getWebhookInfo": self._webhook_info,
            }.get(method)
            if handler is None:
                return self._error(404, "Not Found: method not found")
            return handler(token, method, body)

    def _send(self, token: str, method: str, body: dict[str, Any]) -> Reply:
        chat_id = str(body.get("chat_id", ""))
        photo = body.get("photo") if method == "sendPhoto" else None
        text = body.get("caption" if photo is not None else "text") or ""
        parse_mode = body.get("parse_mode")
        self.attempts.append(
            {
                "token": token,
                "chat_id": chat_id,
                "method": method,
                "text": text,
                "parse_mode": parse_mode,
                "at": time.monotonic(),
            }
        )
        if not chat_id:
            return self._error(400, "Bad Request: chat_id is empty")
        limit = self._rate_limits.get(chat_id)
        if limit and limit[1] > 0:
            limit[1] -= 1
            retry_after = limit[0]
            return self._error(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)
        if chat_id in self._migrations:
            return self._error(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=int(self._migrations[chat_id]),
            )
        if chat_id in self._blocked:
            return self._error(403, "Forbidden: bot was blocked by the user")
        if chat_id in self._missing:
            return self._error(400, "Bad Request: chat not found")
        if method == "sendMessage" and not text.strip():
            return self._error(400, "Bad Request: message text is empty")
        if method == "sendPhoto" and not photo:
            return self._error(400, "Bad Request: there is no photo in the request")
        if method == "sendMessage" and _utf16(text) > 4096:
            return self._error(400, "Bad Request: message is too long")
        if method == "sendPhoto" and _utf16(text) > 1024:
            return self._error(400, "Bad Request: message caption is too long")
        if parse_mode:
            if self._reject_entities > 0:
                self._reject_entities -= 1
                return self._error(400, "Bad Request: can't parse entities: unsupported start tag at byte offset 0")
            if parse_mode == "HTML" and not _html_ok(text):
                return self._error(400, "Bad Request: can't parse entities: unexpected end tag")
        message_id = next(self._ids)
        self.messages.append(
            {
                "token": token,
                "chat_id": chat_id,
                "text": text,
                "parse_mode": parse_mode,
                "method": method,
                "photo": photo,
                "message_id": message_id,
                "at": time.monotonic(),
            }
        )
        result: dict[str, Any] = {
            "message_id": message_id,
            "chat": {"id": int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id},
            "date": int(time.time()),
        }
        return Reply(200, {"ok": True, "result": result})

    def _set_webhook(self, token: str, method: str, body: dict[str, Any]) -> Reply:
        url = body.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return self._error(400, "Bad Request: bad webhook: an HTTPS URL must be provided for webhook")
        self.webhooks[token] = {
            "url": url,
            "secret_token": body.get("secret_token"),
            "at": time.time(),
            "allowed_updates": body.get("allowed_updates"),
        }
        return Reply(200, {"ok": True, "result": True, "description": "Webhook was set"})

    def _delete_webhook(self, token: str, method: str, body: dict[str, Any]) -> Reply:
        self.webhooks.pop(token, None)
        self.deleted_webhooks.append(token)
        return Reply(200, {"ok": True, "result": True, "description": "Webhook was deleted"})

    def _get_me(self, token: str, method: str, body: dict[str, Any]) -> Reply:
        return Reply(200, {"ok": True, "result": self.bots[token]})

    def _webhook_info(self, token: str, method: str, body: dict[str, Any]) -> Reply:
        hook = self.webhooks.get(token)
        return Reply(200, {"ok": True, "result": {"url": hook["url"] if hook else "", "pending_update_count": 0}})
