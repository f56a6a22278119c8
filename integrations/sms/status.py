"""Per-message SMS delivery status in Redis.

One hash per message: `gw:sms:status:{cid}:{user_sms_id}` with `status`, `status_date`,
`request_id`, `message_id`, `recipient` (masked: last 4 digits only), `sms_count`,
`updated_at`. Every write refreshes the TTL (`Settings.pii_retention_seconds`).

Statuses move `waiting` (or `unknown`: the send's outcome was lost) → a final one
(`DELIVRD`, `UNDELIV`, `EXPIRED`, `REJECTD`, ...). Reports may arrive out of order, even before
the sender wrote `waiting`, so the writes are guarded in Lua: a non-final status never
overwrites a final one, and between two final ones the later `status_date` wins.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from redis.asyncio import Redis

from schemas.envelope import mask_recipient

PREFIX = "gw:sms:status:"
# Both levels and spellings occur (shared/docs/providers.md "Eskiz"): message-level DELIVERED / REJECTED,
# part-level (SMSC) DELIVRD, UNDELIV/UNDELIVERABLE, EXPIRED, REJECTD, DELETED. Unknown names are stored
# as intermediate: never refused, never allowed to overwrite a final one.
FINAL_STATUSES = frozenset(
    {"DELIVRD", "DELIVERED", "UNDELIV", "UNDELIVERABLE", "EXPIRED", "REJECTD", "REJECTED", "DELETED", "FAILED"}
)

# KEYS[1] status key; ARGV: ttl, is_final ("1"/"0"), status, status_date, then field/value pairs.
_WRITE = """
local cur = redis.call('HGET', KEYS[1], 'final')
local cur_date = redis.call('HGET', KEYS[1], 'status_date') or ''
local apply = true
if cur == '1' then
  if ARGV[2] ~= '1' then apply = false
  elseif ARGV[4] ~= '' and cur_date ~= '' and ARGV[4] < cur_date then apply = false end
end
if apply then
  redis.call('HSET', KEYS[1], 'status', ARGV[3], 'final', ARGV[2], 'status_date', ARGV[4])
  for i = 5, #ARGV, 2 do
    if ARGV[i + 1] ~= '' then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
if apply then return 1 else return 0 end
"""


# The same guard for a whole chunk just sent, in one call: `status` (waiting / unknown) is never
# final, so it applies only where no final report arrived first. KEYS: the status keys;
# ARGV: ttl, status, updated_at, request_id ('' = none), then one masked recipient per key.
_WRITE_PENDING = """
for i, key in ipairs(KEYS) do
  if redis.call('HGET', key, 'final') ~= '1' then
    redis.call('HSET', key, 'status', ARGV[2], 'final', '0', 'status_date', '', 'recipient', ARGV[4 + i],
               'updated_at', ARGV[3])
    if ARGV[4] ~= '' then redis.call('HSET', key, 'request_id', ARGV[4]) end
  end
  redis.call('EXPIRE', key, ARGV[1])
end
return #KEYS
"""


def status_key(cid: str, user_sms_id: str) -> str:
    return f"{PREFIX}{cid.lower()}:{user_sms_id}"


def is_final(status: str) -> bool:
    """Final statuses end the story; anything else (`waiting`, `TRANSMTD`, ...) is intermediate."""
    return status.upper() in FINAL_STATUSES


def _args(ttl: int, status: str, status_date: str, fields: Mapping[str, Any]) -> list[Any]:
    args: list[Any] = [ttl, "1" if is_final(status) else "0", status, status_date or ""]
    for name, value in fields.items():
        args += [name, "" if value is None else str(value)]
    return args


async def record_pending(
    redis: Redis,
    cid: str,
    entries: Iterable[tuple[str, str]],
    *,
    ttl: int,
    status: str = "waiting",
    request_id: str | None = None,
) -> None:
    """Write `status` (`waiting` or `unknown`) for each (user_sms_id, phone) just sent: one
    script call per chunk (per-message commands cost more client CPU than the send itself)."""
    entries = list(entries)
    if not entries:
        return
    script = redis.register_script(_WRITE_PENDING)
    keys = [status_key(cid, user_sms_id) for user_sms_id, _ in entries]
    args = [ttl, status, f"{time.time():.3f}", request_id or "", *(mask_recipient(phone) for _, phone in entries)]
    await script(keys=keys, args=args)


async def apply_report(redis: Redis, cid: str, report: Mapping[str, Any], *, ttl: int) -> bool:
    """Apply one provider delivery report. Returns False if it was ignored (no user_sms_id or
    status, or older than what is stored)."""
    user_sms_id = str(report.get("user_sms_id") or "").strip()
    status = str(report.get("status") or "").strip()
    if not user_sms_id or not status or len(user_sms_id) > 64:
        return False
    phone = str(report.get("phone_number") or "")
    fields = {
        "recipient": mask_recipient(phone) if phone else None,
        "request_id": report.get("request_id"),
        "message_id": report.get("message_id"),
        "sms_count": report.get("sms_count"),
        "updated_at": f"{time.time():.3f}",
    }
    script = redis.register_script(_WRITE)
    applied = await script(
        keys=[status_key(cid, user_sms_id)], args=_args(ttl, status, str(report.get("status_date") or ""), fields)
    )
    return bool(applied)


async def get_status(redis: Redis, cid: str, user_sms_id: str) -> dict[str, str] | None:
    """The stored status of one message, or None (never sent through Eskiz, or expired)."""
    raw = await redis.hgetall(status_key(cid, user_sms_id))
    if not raw:
        return None
    out = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v) for k, v in raw.items()
    }
    out.pop("final", None)
    return out
