"""Put stored work back on the queues: a dead letter's task, or a bulk's held messages.

Used by the operator endpoints (`POST /admin/dead-letters/{id}/replay`,
`POST /admin/held/{bulk_id}/resend`) and the CLIs `python -m workers.replay` and
`python -m workers.resend_held`.

Replayed work meets the same exactly-once markers as the original, so a message that did go
out before the failure is not sent again. A held re-send is one task under new chunk ids,
published with an idempotency key per bulk, so two operators re-sending the same bulk at once
make one task; check first (e.g. with GetSMS support or the recipients) whether the messages
arrived: a re-send of a message that did go out is a second SMS.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from jobs import dead_letters, held
from jobs.names import SEND_MESSAGES
from jobs.publish import Publisher
from schemas.envelope import TaskEnvelope


class NothingHeld(LookupError):
    pass


async def replay_letter(redis: Redis, publisher: Publisher, letter: dict[str, Any]) -> str:
    """Enqueue a dead letter's task again under a new id and drop the letter; returns the new id."""
    envelope = letter["kwargs"].get("envelope") or {}
    published = await publisher.publish(
        letter["task_name"],
        letter["kwargs"],
        argsrepr=f"replay of {letter['id']}: {letter.get('client')} {letter.get('connected_integration_id')} "
        f"{letter.get('action')}",
        record={
            "client": letter.get("client"),
            "connected_integration_id": letter.get("connected_integration_id"),
            "action": letter.get("action"),
            "event_id": letter.get("event_id"),
            "replay_of": letter["id"],
        },
        request_id=envelope.get("request_id", ""),
    )
    await dead_letters.forget(redis, letter["id"])
    return published.task_id


async def resend_held(redis: Redis, publisher: Publisher, bulk_id: str, *, ttl: int) -> str:
    """Publish the held messages of `bulk_id` as one SendMessages task; returns its id."""
    record = await held.load(redis, bulk_id)
    if record is None:
        raise NothingHeld(f"nothing held for bulk {bulk_id!r} (unknown, expired or already re-sent)")
    messages = [{"index": m["index"], "recipient": m["phone"], "message": m["text"]} for m in record["messages"]]
    envelope = TaskEnvelope(
        client=record["client"],
        action="send_messages",
        connected_integration_id=record["connected_integration_id"],
        data={"messages": messages, "invalid": []},
    )
    head = f"{envelope.client} {envelope.connected_integration_id} send_messages"
    published = await publisher.publish(
        SEND_MESSAGES,
        {"envelope": envelope.model_dump()},
        argsrepr=f"{head} {len(messages)} held messages of {bulk_id} re-sent",
        record={
            "client": envelope.client,
            "connected_integration_id": envelope.connected_integration_id,
            "action": "send_messages",
            "resend_of": bulk_id,
            "message_count": len(messages),
        },
        dedupe_key=f"gw:dedupe:held-resend:{bulk_id}",
        dedupe_ttl=ttl,
    )
    await held.forget(redis, bulk_id, ttl=ttl)
    return published.task_id
