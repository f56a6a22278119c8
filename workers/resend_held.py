"""Re-send messages held for an operator (see `integrations.sms.held`).

`python -m workers.resend_held --list [--client K] [--connected-integration-id ID]` shows held
bulk sends; `python -m workers.resend_held BULK_ID [BULK_ID ...]` re-sends each one's messages
as a new SendMessages task and drops the record. `POST /admin/held/{bulk_id}/resend` does the
same for one. Check first (e.g. with GetSMS support or the recipients) whether they arrived:
a re-send of a message that did go out is a second SMS.

Each re-send is one task under new chunk ids, published with an idempotency key per bulk, so
two operators re-sending the same bulk at once make one task.
"""

from __future__ import annotations

import argparse
import asyncio

import orjson
from redis.asyncio import Redis

import celeryconfig
from integrations.sms import held
from schemas.envelope import TaskEnvelope
from settings import get_settings
from workers.publish import Publisher


class NothingHeld(LookupError):
    pass


async def resend(redis: Redis, publisher: Publisher, bulk_id: str, *, ttl: int) -> str:
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
        celeryconfig.SEND_MESSAGES,
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


async def _main(args: argparse.Namespace) -> int:
    settings = get_settings()
    redis = Redis.from_url(settings.redis_url)
    try:
        if args.list or not args.bulk_ids:
            rows = await held.recent(
                redis, limit=args.limit, client=args.client, connected_integration_id=args.connected_integration_id
            )
            for row in rows:
                print(orjson.dumps(row).decode())
            print(f"{len(rows)} held bulk send(s)")
            return 0
        publisher = Publisher(redis, record_ttl=settings.result_expires_seconds)
        status = 0
        for bulk_id in args.bulk_ids:
            try:
                task_id = await resend(redis, publisher, bulk_id, ttl=settings.pii_retention_seconds)
            except NothingHeld as exc:
                print(exc)
                status = 1
            else:
                print(f"re-sent held messages of {bulk_id} as task {task_id}")
        return status
    finally:
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m workers.resend_held", description=__doc__.split("\n\n")[0])
    parser.add_argument("bulk_ids", nargs="*", help="SendMessages task ids whose held messages to re-send")
    parser.add_argument("--list", action="store_true", help="list held bulk sends (default without ids)")
    parser.add_argument("--client")
    parser.add_argument("--connected-integration-id")
    parser.add_argument("--limit", type=int, default=100)
    raise SystemExit(asyncio.run(_main(parser.parse_args())))


if __name__ == "__main__":
    main()
