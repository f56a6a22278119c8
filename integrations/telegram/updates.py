"""Telegram updates, parsed leniently into what the gateway's bots use.

Source: https://core.telegram.org/bots/api#update — an Update has `update_id` and "at most one of
the optional parameters" (`message`, `edited_message`, `channel_post`, `callback_query`,
`my_chat_member`, ... new kinds appear with new Bot API versions). Only two kinds matter here:
`message` (a `/start` or `/stop` command; Message: https://core.telegram.org/bots/api#message)
and `my_chat_member` (the bot blocked or removed; ChatMemberUpdated:
https://core.telegram.org/bots/api#chatmemberupdated). Everything else, and any field missing or
of an unexpected type, parses to an `Update` the handler ignores — never an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

USED_KINDS = ("message", "my_chat_member")


@dataclass(frozen=True)
class Update:
    update_id: int | None
    kind: str | None  # the update's one optional field present, e.g. "message", "callback_query"
    chat_id: str | None = None  # numeric chat id as text, when the kind carries one
    text: str = ""  # message text (`message` only)
    member_status: str | None = None  # new_chat_member.status (`my_chat_member` only)

    @property
    def command(self) -> str:
        """`/start@shop_bot now` → `/start`; "" when the text is not a command."""
        words = self.text.strip().split(maxsplit=1)
        if not words or not words[0].startswith("/"):
            return ""
        return words[0].split("@", 1)[0].lower()


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _chat_id(holder: dict[str, Any]) -> str | None:
    value = _dict(holder.get("chat")).get("id")
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    text = str(value).strip()
    return text if text.lstrip("-").isdigit() else None


def parse_update(body: Any) -> Update:
    data = _dict(body)
    update_id = data.get("update_id")
    update_id = update_id if isinstance(update_id, int) and not isinstance(update_id, bool) else None
    kind = next((k for k in data if k != "update_id" and isinstance(data[k], dict)), None)
    if kind == "message":
        message = data["message"]
        text = message.get("text")
        return Update(update_id, kind, _chat_id(message), text if isinstance(text, str) else "")
    if kind == "my_chat_member":
        member = data["my_chat_member"]
        status = _dict(member.get("new_chat_member")).get("status")
        return Update(update_id, kind, _chat_id(member), member_status=status if isinstance(status, str) else None)
    return Update(update_id, kind)
