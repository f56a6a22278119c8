"""Replay dead letters: `python -m workers.replay [--client K] [--connected-integration-id ID]
[--task NAME] [--limit N] [--dry-run]` re-enqueues matching dead letters under new task ids
and removes them from the store. `POST /admin/dead-letters/{id}/replay` does the same for one
(both with `jobs.replay.replay_letter`).
"""

from __future__ import annotations

import argparse
import asyncio

from jobs import dead_letters
from jobs.publish import Publisher
from jobs.replay import replay_letter
from kit import redis as redis_clients
from settings import get_settings


async def _main(args: argparse.Namespace) -> int:
    settings = get_settings()
    redis = redis_clients.client(settings.redis_url, timeout=5.0)
    try:
        letters = await dead_letters.recent(
            redis,
            limit=args.limit,
            client=args.client,
            connected_integration_id=args.connected_integration_id,
            task_name=args.task,
        )
        publisher = Publisher(redis, record_ttl=settings.result_expires_seconds)
        for letter in letters:
            if args.dry_run:
                print(
                    f"would replay {letter['id']} {letter['task_name']} {letter['client']} "
                    f"{letter['connected_integration_id']}: {letter['error'][:120]}"
                )
            else:
                print(f"replayed {letter['id']} as task {await replay_letter(redis, publisher, letter)}")
        print(f"{len(letters)} dead letter(s) {'matched' if args.dry_run else 'replayed'}")
        return 0
    finally:
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m workers.replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("--client")
    parser.add_argument("--connected-integration-id")
    parser.add_argument("--task", help="task name, e.g. integrations.send_message_chunk")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--dry-run", action="store_true")
    raise SystemExit(asyncio.run(_main(parser.parse_args())))


if __name__ == "__main__":
    main()
