"""Run test fakes (tests/fakes) in a process of their own, seeded from a JSON spec.

    python -m bench.fakes_server SPEC.json

The spec names the fakes to start and their data, e.g.
    {"regos": {"latency": 0.02, "integrations": [{"cid": "…", "key": "getsms", "settings": {…}}],
               "operating_cash": [1], "sessions": [{"uuid": "…", "operating_cash_id": 1}],
               "cheques": [{"uuid": "…", "session": "…", "code": "…", "amount": 1000}]},
     "eskiz": {"latency": 0.05}, "getsms": {"latency": 0.05},
     "telegram": {"latency": 0.02, "bots": ["123:abc"]}}
It prints one JSON line with the fakes' URLs, then answers commands on stdin, one JSON line
each: `stats` (request and delivery counts), `tgcount`, `telegram` (every recorded Telegram message as
[chat_id, text]), `quit`. Fakes run on threads; keeping them out of the load generator's and
the workers' processes keeps them from competing for one GIL.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any


def _telegram_messages(fake: Any) -> list[list[Any]]:
    """[chat_id, text] of every message the fake Telegram accepted (whatever it calls them)."""
    rows: list[Any] = []
    for attr in ("messages", "sent_messages", "sent", "delivered"):
        value = getattr(fake, attr, None)
        if callable(value):
            try:
                value = value()
            except TypeError:
                continue
        if isinstance(value, dict):  # token -> list, or chat -> list
            value = [m for v in value.values() for m in (v if isinstance(v, list) else [v])]
        if isinstance(value, list | tuple):
            rows = list(value)
            break
    out = []
    with fake.lock:
        for m in rows:
            if isinstance(m, dict):
                out.append([str(m.get("chat_id", m.get("chat", ""))), str(m.get("text", ""))])
            else:
                out.append([str(getattr(m, "chat_id", "")), str(getattr(m, "text", ""))])
    return out


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    fakes: dict[str, Any] = {}
    urls: dict[str, Any] = {}
    if "regos" in spec:
        from tests.fakes.regos import FakeRegos

        s = spec["regos"]
        regos = FakeRegos(latency=s.get("latency", 0.0)).start()
        for row in s.get("integrations", []):
            regos.add_connected_integration(row["cid"], row["key"], settings=row.get("settings", {}))
        for cash in s.get("operating_cash", []):
            regos.add_operating_cash(int(cash))
        for row in s.get("sessions", []):
            regos.add_session(**row)
        for row in s.get("cheques", []):
            regos.add_cheque(**row)
        fakes["regos"] = regos
        urls["regos"] = {"url": regos.url, "client_id": regos.client_id, "client_secret": regos.client_secret}
    if "eskiz" in spec:
        from tests.fakes.sms import FakeEskiz

        fakes["eskiz"] = FakeEskiz(latency=spec["eskiz"].get("latency", 0.0)).start()
        urls["eskiz"] = {"url": fakes["eskiz"].url}
    if "getsms" in spec:
        from tests.fakes.getsms import FakeGetSms

        fakes["getsms"] = FakeGetSms(latency=spec["getsms"].get("latency", 0.0)).start()
        urls["getsms"] = {"url": fakes["getsms"].url}
    if "telegram" in spec:
        from tests.fakes.telegram import FakeTelegram  # type: ignore[import-not-found]

        telegram = FakeTelegram(latency=spec["telegram"].get("latency", 0.0))
        telegram.start()
        for token in spec["telegram"].get("bots", []):
            telegram.add_bot(token)
        fakes["telegram"] = telegram
        urls["telegram"] = {"url": telegram.url}
    print(json.dumps(urls), flush=True)

    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            break
        answer: dict[str, Any] = {}
        if command == "stats":
            for name, fake in fakes.items():
                entry: dict[str, Any] = {"requests": len(fake.requests)}
                if hasattr(fake, "delivered_counts"):
                    counts: Counter = fake.delivered_counts()
                    entry.update(
                        delivered=sum(counts.values()),
                        distinct=len(counts),
                        duplicates=sum(v - 1 for v in counts.values() if v > 1),
                    )
                if name == "regos":
                    paths = Counter(r.path.rsplit("/v1/", 1)[-1] for r in fake.calls())
                    entry["by_method"] = dict(paths)
                    entry["token_requests"] = fake.token_requests
                answer[name] = entry
        elif command == "tgcount":
            answer = {"count": len(_telegram_messages(fakes["telegram"])) if "telegram" in fakes else 0}
        elif command == "telegram":
            answer = {"messages": _telegram_messages(fakes["telegram"])} if "telegram" in fakes else {"messages": []}
        print(json.dumps(answer), flush=True)
    for fake in fakes.values():
        fake.stop()


if __name__ == "__main__":
    main()
