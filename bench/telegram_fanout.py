"""Fan-out of one REGOS event to N Telegram subscribers against FakeTelegram, vs the rate-limit floor.

    python -m bench.telegram_fanout [--smoke] [--subscribers N] [--latency S]

The notifier runs in-process (`handle_webhook`) on a private Redis with FakeRegos and
FakeTelegram over HTTP. The floor is what the bot limit allows: (N - burst) / 30 s. Also checked:
no chat got the message twice, the busiest 1-second window stayed within burst + 30, and a
redelivery of the same event sends nothing. Writes bench/results/telegram_fanout.json.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx2
import orjson
from redis.asyncio import Redis

from bench.common import target, write_result
from integrations.base import IntegrationContext
from integrations.regos_telegram_notifier import TelegramNotifierIntegration
from integrations.telegram.sender import BOT_BURST, BOT_RATE
from schemas.envelope import WebhookCall
from scripts.local_redis import LocalRedis
from settings import Settings
from tests.fakes.regos import FakeRegos
from tests.fakes.telegram import FakeTelegram


async def fire(settings: Settings, cid: str, event_id: str, cheque_uuid: str) -> tuple[float, Any]:
    from regos_sdk import aclose_shared

    redis = Redis.from_url(settings.redis_url)
    http = httpx2.AsyncClient(limits=httpx2.Limits(max_connections=64))
    try:
        ctx = IntegrationContext(
            client="regos_telegram_notifier",
            connected_integration_id=cid,
            settings=settings,
            redis=redis,
            http=http,
            event_id=event_id,
        )
        started = time.perf_counter()
        result = await TelegramNotifierIntegration(ctx).handle_webhook(
            WebhookCall(action="DocChequeClosed", data={"uuid": cheque_uuid})
        )
        return time.perf_counter() - started, result
    finally:
        await http.aclose()
        await redis.aclose()
        await aclose_shared()


def busiest_second(times: list[float]) -> int:
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= 1.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="60 subscribers: a quick check")
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.03, help="FakeTelegram answer latency (s)")
    args = parser.parse_args()
    n = 60 if args.smoke else args.subscribers

    with tempfile.TemporaryDirectory() as tmp:
        server = LocalRedis(Path(tmp)).start()
        regos, tg = FakeRegos().start(), FakeTelegram(latency=args.latency)
        tg.start()
        try:
            token = tg.add_bot(f"{uuid.uuid4().int % 10**9}:BENCH{uuid.uuid4().hex}")
            chats = [10**9 + k for k in range(n)]
            cid = uuid.uuid4().hex
            regos.add_connected_integration(
                cid, "regos_telegram_notifier", settings={"BOT_TOKEN": token, "CHAT_IDS": orjson.dumps(chats).decode()}
            )
            cheque = regos.add_cheque(amount=1_250_000, code="BENCH-1")
            settings = Settings(
                environment="test",
                redis_url=server.url,
                telegram_api_base_url=tg.url,
                public_base_url="http://127.0.0.1:9",
                regos_rate_limit_per_second=1000,
                regos_rate_limit_burst=1000,
                task_time_limit_seconds=max(50, int(n / BOT_RATE * 2) + 10),
                **regos.settings_kwargs(),
            )
            event = f"bench-{uuid.uuid4().hex}"
            wall, result = asyncio.run(fire(settings, cid, event, cheque["uuid"]))
            again_wall, again = asyncio.run(fire(settings, cid, event, cheque["uuid"]))
            per_chat = [len(tg.sent(c)) for c in chats]
            busiest = busiest_second([m["at"] for m in tg.messages])
        finally:
            regos.stop()
            tg.stop()
            server.stop()

    floor = max(0.0, (n - BOT_BURST) / BOT_RATE)
    out = {
        "subscribers": n,
        "latency_s": args.latency,
        "wall_s": round(wall, 3),
        "floor_s": round(floor, 3),
        "ratio_to_floor": round(wall / floor, 3) if floor else None,
        "sent": result.result.get("sent") if result.ok else None,
        "delivered_once": sum(1 for c in per_chat if c == 1),
        "duplicates": sum(c - 1 for c in per_chat if c > 1),
        "busiest_1s_window": busiest,
        "allowed_1s_window": 30,
        "redelivery_wall_s": round(again_wall, 3),
        "redelivery_sent": again.result.get("sent") if again.ok else None,
        "targets": [
            target("every subscriber once", f"{n}", sum(1 for c in per_chat if c == 1), all(c == 1 for c in per_chat)),
            target("bot rate respected", "<= 30 in any 1 s window", busiest, busiest <= 30),
            target("close to the floor", "<= 1.3x floor", round(wall, 3), wall <= floor * 1.3 + 0.5),
        ],
    }
    path = write_result("telegram_fanout", out)
    print(
        f"{n} subscribers: {wall:.2f}s (floor {floor:.2f}s), busiest second {busiest} msgs, "
        f"duplicates {out['duplicates']}, redelivery {again_wall:.3f}s sent {out['redelivery_sent']}; wrote {path}"
    )


if __name__ == "__main__":
    main()
