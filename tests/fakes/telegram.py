"""A strict fake of the Telegram Bot API over real HTTP.

    tg = FakeTelegram().start()
    tg.add_bot("123:ABC")
    ... Settings(telegram_api_base_url=tg.url) ...
    assert [m["text"] for m in tg.sent("42")] == [...]

Contract (https://core.telegram.org/bots/api#making-requests, unless a line says otherwise):
- Requests are `{base}/bot<token>/METHOD_NAME`, exactly: anything else is 404 Not Found. "All
  methods in the Bot API are case-insensitive." GET and POST; parameters from the URL query string,
  `application/x-www-form-urlencoded` or `application/json` (objects inside a form are
  JSON-serialized strings). A body in any other content type is not read, so its fields are
  missing (e.g. "Bad Request: chat_id is empty"). multipart/form-data (file uploads) is not
  implemented here: 400.
- Answers are JSON: `{"ok": true, "result": ...}` or `{"ok": false, "error_code": N,
  "description": "..."}` with optional `parameters` (ResponseParameters: `retry_after`,
  `migrate_to_chat_id`, https://core.telegram.org/bots/api#responseparameters).
- An unknown token → 401 "Unauthorized". An unknown method → 404 "Not Found".
- sendMessage / sendPhoto (https://core.telegram.org/bots/api#sendmessage, #sendphoto): `chat_id`
  and `text` / `photo` required; text ≤ 4096 and caption ≤ 1024 characters after entity parsing
  (counted in UTF-16 units here); HTML markup limited to the documented tags
  (https://core.telegram.org/bots/api#html-style), else 400 "can't parse entities". Answers the
  sent Message (https://core.telegram.org/bots/api#message: message_id, date, chat; text or
  photo + caption).
- setWebhook (https://core.telegram.org/bots/api#setwebhook): `url` HTTPS only, ports 443, 80, 88,
  8443; `secret_token` 1-256 characters of A-Z a-z 0-9 _ -; an empty `url` removes the webhook.
  Telegram's descriptions of these refusals are not in the documentation; the ones used here are
  those Telegram returns in practice ("Bad Request: bad webhook: An HTTPS URL must be provided for
  webhook", "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
  "Bad Request: secret token contains unallowed characters").
- deleteWebhook, getMe (a User, https://core.telegram.org/bots/api#user), getWebhookInfo
  (WebhookInfo: `url` "" when none, `has_custom_certificate`, `pending_update_count`; optional
  fields absent, https://core.telegram.org/bots/api#webhookinfo).

Scriptable per chat (descriptions as in ../shared/docs/providers.md "Telegram"): `block(chat)` →
403 "Forbidden: bot was blocked by the user"; `missing(chat)` → 400 "Bad Request: chat not found";
`migrate(chat, new_id)` → 400 with `parameters.migrate_to_chat_id`; `rate_limit(chat, retry_after,
times)` → 429 with `parameters.retry_after`; `reject_entities(times)`; `hold(chat, seconds,
accept)` → the next send to that chat answers only after `seconds` (a hung Telegram), having
taken the message (`accept=True`: the answer is what is lost) or not (`accept=False`: then 502).
Recording: `messages` (dicts with token, chat_id, text, parse_mode, method, photo, message_id,
at), `sent(chat_id)`, `attempts` (every send call, also refused ones), `webhooks` (token → {url,
secret_token, allowed_updates}), `deleted_webhooks` (tokens).
"""

from __future__ import annotations

import itertools
import json
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.base import FakeServer, Recorded, Reply

_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[^/]+)$")
_ALLOWED_TAG = re.compile(
    r"</?(b|strong|i|em|u|ins|s|strike|del|code|pre|tg-spoiler|blockquote)>|<a href=\"[^\"<>]*\">|</a>"
)
_ENTITY = re.compile(r"&(amp|lt|gt|quot|#\d+|#x[0-9a-fA-F]+);")
_SECRET = re.compile(r"[A-Za-z0-9_-]*")
WEBHOOK_PORTS = {443, 80, 88, 8443}
_JSON_FIELDS = {"allowed_updates", "link_preview_options", "reply_markup", "reply_parameters"}


def _utf16(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _html_ok(text: str) -> bool:
    bare = _ENTITY.sub("", _ALLOWED_TAG.sub("", text))
    return not any(ch in bare for ch in "<>&")


def _chat_type(chat_id: str) -> str:
    if chat_id.startswith("-100"):
        return "supergroup"
    return "group" if chat_id.startswith("-") else "private"


class BadParams(Exception):
    pass


def read_params(request: Recorded) -> dict[str, Any]:
    """The method's parameters as Telegram reads them: query string, then the body by its type."""
    params: dict[str, Any] = {k: v[-1] for k, v in request.query.items()}
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not request.body:
        return params
    if content_type == "application/json":
        try:
            body = json.loads(request.body)
        except ValueError:
            raise BadParams("Bad Request: can't parse JSON object") from None
        if not isinstance(body, dict):
            raise BadParams("Bad Request: can't parse JSON object")
        params.update(body)
    elif content_type == "application/x-www-form-urlencoded":
        form = {k: v[-1] for k, v in parse_qs(request.body.decode(), keep_blank_values=True).items()}
        for key, value in form.items():
            if key in _JSON_FIELDS:
                try:
                    form[key] = json.loads(value)
                except ValueError:
                    raise BadParams(f"Bad Request: can't parse {key} JSON object") from None
        params.update(form)
    elif content_type == "multipart/form-data":
        raise BadParams("Bad Request: multipart/form-data is not implemented by this fake")
    return params


class FakeTelegram(FakeServer):
    base_url_env = "TELEGRAM_API_BASE_URL"

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
        self._holds: dict[str, tuple[float, bool]] = {}  # chat → (seconds, accept)
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

    def hold(self, chat_id: Any, seconds: float, *, accept: bool) -> None:
        """The next send to `chat_id` hangs `seconds` before answering (see the module doc)."""
        with self.lock:
            self._holds[str(chat_id)] = (seconds, accept)

    def clear_faults(self) -> None:
        super().clear_faults()
        with self.lock:
            self._blocked.clear()
            self._missing.clear()
            self._migrations.clear()
            self._rate_limits.clear()
            self._holds.clear()
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
        if request.method not in ("GET", "POST") or not match:
            return self._error(404, "Not Found")
        token, method = match["token"], match["method"].lower()
        with self.lock:
            if token not in self.bots:
                return self._error(401, "Unauthorized")
            handler = {
                "sendmessage": self._send,
                "sendphoto": self._send,
                "setwebhook": self._set_webhook,
                "deletewebhook": self._delete_webhook,
                "getme": self._get_me,
                "getwebhookinfo": self._webhook_info,
            }.get(method)
            if handler is None:
                return self._error(404, "Not Found")
            try:
                params = read_params(request)
            except BadParams as exc:
                return self._error(400, str(exc))
            return handler(token, method, params)

    def _send(self, token: str, method: str, body: dict[str, Any]) -> Reply:
        chat_id = str(body.get("chat_id") or "")
        photo = body.get("photo") if method == "sendphoto" else None
        text = str(body.get("caption" if method == "sendphoto" else "text") or "")
        parse_mode = body.get("parse_mode") or None
        method_name = "sendPhoto" if method == "sendphoto" else "sendMessage"
        self.attempts.append(
            {
                "token": token,
                "chat_id": chat_id,
                "method": method_name,
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
        if method == "sendmessage" and not text.strip():
            return self._error(400, "Bad Request: message text is empty")
        if method == "sendphoto" and not photo:
            return self._error(400, "Bad Request: there is no photo in the request")
        if method == "sendmessage" and _utf16(text) > 4096:
            return self._error(400, "Bad Request: message is too long")
        if method == "sendphoto" and _utf16(text) > 1024:
            return self._error(400, "Bad Request: message caption is too long")
        if parse_mode:
            if self._reject_entities > 0:
                self._reject_entities -= 1
                return self._error(400, "Bad Request: can't parse entities: unsupported start tag at byte offset 0")
            if parse_mode == "HTML" and not _html_ok(text):
                return self._error(400, "Bad Request: can't parse entities: unexpected end tag")
        held = self._holds.pop(chat_id, None)
        if held is not None and not held[1]:  # hung before Telegram took it
            page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            return Reply(502, page, headers={"Content-Type": "text/html"}, delay=held[0])
        message_id = next(self._ids)
        self.messages.append(
            {
                "token": token,
                "chat_id": chat_id,
                "text": text,
                "parse_mode": parse_mode,
                "method": method_name,
                "photo": photo,
                "message_id": message_id,
                "at": time.monotonic(),
            }
        )
        bot = self.bots[token]
        result: dict[str, Any] = {
            "message_id": message_id,
            "from": bot,
            "chat": {"id": int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id, "type": _chat_type(chat_id)},
            "date": int(time.time()),
        }
        if photo is not None:
            size = {"file_id": f"photo-{message_id}", "file_unique_id": f"u{message_id}", "width": 90, "height": 90}
            result["photo"] = [size]
            if text:
                result["caption"] = text
        else:
            result["text"] = text
        return Reply(200, {"ok": True, "result": result}, delay=held[0] if held else 0.0)

    def _set_webhook(self, token: str, method: str, body: dict[str, Any]) -> Reply:
        url = str(body.get("url") or "")
        if not url:  # "Use an empty string to remove webhook integration"
            return self._delete_webhook(token, method, body)
        parts = urlsplit(url)
        if parts.scheme.lower() != "https" or not parts.hostname:
            return self._error(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        try:
            port = parts.port or 443
        except ValueError:
            return self._error(400, "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        if port not in WEBHOOK_PORTS:
            return self._error(400, "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret = body.get("secret_token")
        if secret is not None:
            secret = str(secret)
            if len(secret) > 256:
                return self._error(400, "Bad Request: secret token is too long")
            if not secret or not _SECRET.fullmatch(secret):
                return self._error(400, "Bad Request: secret token contains unallowed characters")
        allowed = body.get("allowed_updates")
        if allowed is not None and not (isinstance(allowed, list) and all(isinstance(a, str) for a in allowed)):
            return self._error(400, "Bad Request: can't parse allowed updates")
        previous = self.webhooks.get(token, {})
        self.webhooks[token] = {
            "url": url,
            "secret_token": secret,
            "at": time.time(),
            # "If not specified, the previous setting will be used."
            "allowed_updates": allowed if allowed is not None else previous.get("allowed_updates"),
        }
        return Reply(200, {"ok": True, "result": True, "description": "Webhook was set"})

    def _delete_webhook(self, token: str, method: str, body: dict[str, Any]) -> Reply:
        existed = self.webhooks.pop(token, None) is not None
        self.deleted_webhooks.append(token)
        description = "Webhook was deleted" if existed else "Webhook is already deleted"
        return Reply(200, {"ok": True, "result": True, "description": description})

    def _get_me(self, token: str, method: str, body: dict[str, Any]) -> Reply:
        return Reply(200, {"ok": True, "result": self.bots[token]})

    def _webhook_info(self, token: str, method: str, body: dict[str, Any]) -> Reply:
        hook = self.webhooks.get(token)
        info: dict[str, Any] = {
            "url": hook["url"] if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": 0,
        }
        if hook and hook.get("allowed_updates") is not None:
            info["allowed_updates"] = hook["allowed_updates"]
        return Reply(200, {"ok": True, "result": info})
