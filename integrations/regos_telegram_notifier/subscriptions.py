"""Subscribers (`CHAT_IDS` in REGOS) and the bot's webhook registration.

`CHAT_IDS` is one JSON array edited by several actors at once (/start and /stop updates,
removal of blocked chats, group migrations), possibly in several worker processes. Every change
is a read-modify-write under a Redis lock per connected integration (redis-py's `Lock`),
and the read inside the lock bypasses the settings cache (`get_map(cached=False)`), so no
change is lost to a concurrent one.

Webhook registration stores a sha256 fingerprint of the BOT_TOKEN it registered (never the
token) so `UpdateSettings` can tell whether the token changed and the webhook must move.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from redis.exceptions import LockError

from integrations.connected_settings import setting
from integrations.errors import TransientError
from integrations.regos_telegram_notifier.config import CHAT_IDS, dump_chat_ids, parse_chat_ids
from integrations.telegram.bot_api import token_fingerprint

if TYPE_CHECKING:
    from integrations.base import IntegrationContext

LOCK_PREFIX = "gw:tg:chatids-lock:"
HOOK_PREFIX = "gw:tg:hook:"
LOCK_TTL = 30.0
LOCK_WAIT = 20.0
HOOK_TTL = 30 * 86_400

Change = Callable[[list[str]], list[str]]


async def edit_chat_ids(ctx: IntegrationContext, change: Change, *, label: str) -> tuple[list[str], list[str]]:
    """Apply `change` to the current CHAT_IDS, serialized per connected integration.
    Returns (before, after); writes to REGOS only when something changed."""
    cid = ctx.connected_integration_id
    lock = ctx.redis.lock(LOCK_PREFIX + cid, timeout=LOCK_TTL, blocking_timeout=LOCK_WAIT, sleep=0.05)
    if not await lock.acquire():
        raise TransientError(f"{label}: CHAT_IDS is being edited by another worker; try again")
    try:
        async with ctx.regos() as api:
            service = api.integrations.connected_integration_setting
            values = await service.get_map(cached=False)
            before = parse_chat_ids(setting(values, CHAT_IDS), label)
            after = change(list(before))
            if after != before:
                await service.edit([{"key": CHAT_IDS, "value": dump_chat_ids(after), "connected_integration_id": cid}])
    finally:
        with contextlib.suppress(LockError):  # it expired under us: nothing left to release
            await lock.release()
    return before, after


def add(chat_id: str) -> Change:
    return lambda ids: ids if chat_id in ids else [*ids, chat_id]


def remove(*chat_ids: str) -> Change:
    gone = set(chat_ids)
    return lambda ids: [c for c in ids if c not in gone]


def replace_ids(mapping: dict[str, str], gone: set[str]) -> Change:
    """Migrations (old → new) and removals in one edit."""

    def change(ids: list[str]) -> list[str]:
        out: list[str] = []
        for chat in ids:
            if chat in gone:
                continue
            chat = mapping.get(chat, chat)
            if chat not in out:
                out.append(chat)
        return out

    return change


async def registered_fingerprint(ctx: IntegrationContext) -> str | None:
    value = await ctx.redis.get(HOOK_PREFIX + ctx.connected_integration_id)
    return value.decode() if isinstance(value, bytes) else value


async def remember_registration(ctx: IntegrationContext, token: str) -> None:
    await ctx.redis.set(HOOK_PREFIX + ctx.connected_integration_id, token_fingerprint(token), ex=HOOK_TTL)


async def forget_registration(ctx: IntegrationContext) -> None:
    await ctx.redis.delete(HOOK_PREFIX + ctx.connected_integration_id)
