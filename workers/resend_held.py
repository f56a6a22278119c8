"""Re-send messages held for an operator (see `jobs.held`).

`python -m workers.resend_held --list [--client K] [--connected-integration-id ID]` shows held
bulk sends; `python -m workers.resend_held BULK_ID [BULK_ID ...]` re-sends each one's messages
as a new SendMessages task and drops the record. `POST /admin/held/{bulk_id}/resend` does the
same for one (both with `jobs.replay.resend_held`). Check first (e.g. with GetSMS support or the
recipients) whether they arrived: a re-send of a message that did go out is a second SMS.
"""

from __future__ import annotations

import argparse
import asyncio

import orjson

from jobs import held
from jobs.publish import Publisher
from jobs.replay import NothingHeld, resend_held
from kit import redis as redis_clients
from settings import get_settings


async def _main(args: argparse.Namespace) -> int:
    settings = get_settings()
    redis = redis_clients.client(settings.redis_url, timeout=5.0)
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
                task_id = await resend_held(redis, publisher, bulk_id, ttl=settings.pii_retention_seconds)
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
