"""Which EDO connected integrations import new incoming documents by themselves, and for which firms.

The setting `EDO_AUTO_IMPORT` (`true`/`1`/`yes`; settings are per firm, edo-contract.md §1.4)
turns it on. Connect, Reconnect and UpdateSettings re-read it for the tenant's firms and record
the answer in one Redis hash, `{key}:{cid}` → firm ids; Disconnect removes the entry. The
scheduled task (workers/schedule.py) reads only this hash, so a beat tick costs no REGOS call.
The hash is bounded (MAX_ENTRIES) and its TTL (REGISTRY_TTL) is renewed by every beat tick and
every write, so it only lapses when no beat has run for that long (Connect/UpdateSettings re-add).
Which documents were already enqueued: the publisher's dedupe key per document, TTL'd.
"""

from __future__ import annotations

import logging

import orjson
from redis.asyncio import Redis

log = logging.getLogger("integrations.edo")

REGISTRY_KEY = "gw:edo:auto_import"
MAX_ENTRIES = 10_000
REGISTRY_TTL = 30 * 86_400
MAX_FIRMS = 100  # Firm/Get page read at Connect: tenants have a handful of firms
SETTING = "EDO_AUTO_IMPORT"
LOOKBACK_SECONDS = 3 * 86_400  # documents dated within the last 3 days are polled
SEEN_TTL = 7 * 86_400  # longer than the lookback: a document is enqueued once
ON = frozenset({"true", "1", "yes"})

# HSET only below the bound (an existing entry may always be updated); renew the TTL.
_PUT = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or redis.call('HLEN', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
  return 1
end
return 0
"""


def is_on(value: str | None) -> bool:
    return (value or "").strip().lower() in ON


def entry(key: str, cid: str) -> str:
    return f"{key}:{cid}"


async def record(redis: Redis, key: str, cid: str, firm_ids: list[int]) -> None:
    """Poll these firms of this connected integration from now on (none: stop polling it)."""
    if not firm_ids:
        await redis.hdel(REGISTRY_KEY, entry(key, cid))
        return
    firms = orjson.dumps(sorted(firm_ids))
    if not await redis.eval(_PUT, 1, REGISTRY_KEY, entry(key, cid), firms, MAX_ENTRIES, REGISTRY_TTL):
        log.error("%s %s: auto-import not enabled, %d connected integrations already poll", key, cid, MAX_ENTRIES)


async def forget(redis: Redis, key: str, cid: str) -> None:
    await redis.hdel(REGISTRY_KEY, entry(key, cid))


async def entries(redis: Redis) -> list[tuple[str, str, list[int]]]:
    """(integration key, connected integration id, firm ids) of every auto-importing integration."""
    rows = await redis.hgetall(REGISTRY_KEY)
    if rows:
        await redis.expire(REGISTRY_KEY, REGISTRY_TTL)
    out = []
    for name, firms in rows.items():
        key, _, cid = name.decode().partition(":")
        out.append((key, cid, [int(f) for f in orjson.loads(firms)]))
    return out


def dedupe_key(key: str, cid: str, firm_id: int, document_id: str) -> str:
    """The publisher's dedupe key of a document's import: it is enqueued once per SEEN_TTL."""
    return f"gw:dedupe:edo-auto:{key}:{cid}:{firm_id}:{document_id}"
