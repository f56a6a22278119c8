"""What the gateway leaves in Redis, by key pattern: `MEMORY USAGE` sampled per pattern.

    python -m bench.redis_memory REDIS_URL [--units N]

Used by bench/end_to_end.py after every task ran (issue 15: Redis memory per acknowledged
webhook over its 24 h dedupe/result window) and by bench/ingress.py (queued, nothing consumed).
Keys are grouped by their name with ids masked (uuids, long hex, digit runs → `*`); per group
up to `sample` keys are measured with `MEMORY USAGE ... SAMPLES 0` (exact) and their TTL read,
and the group's size is estimated as count x mean. `MEMORY USAGE` counts a key's own
allocations, not the keyspace's dict and expires entries, so the groups add up to a little less
than the `used_memory` delta; both are reported.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from typing import Any

import redis as redis_sync

_IDS = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"  # uuid
    r"|[0-9a-fA-F]{16,}"  # hex ids (connected integrations, hashes)
    r"|\d{3,}"  # counters, chat ids, codes
)
# A key that outlives this many seconds counts as held for the 24 h dedupe/result window;
# shorter ones (rate-limit buckets, locks) are gone long before.
LONG_LIVED_S = 3600


def pattern(key: bytes | str) -> str:
    text = key.decode(errors="replace") if isinstance(key, bytes) else key
    return _IDS.sub("*", text)


def breakdown(r: redis_sync.Redis, units: int, sample: int = 200) -> list[dict[str, Any]]:
    """Per key pattern: keys, estimated bytes, bytes per unit (event/message), TTL range, type."""
    groups: dict[str, list[bytes]] = defaultdict(list)
    for key in r.scan_iter(count=1000):
        groups[pattern(key)].append(key)
    rows = []
    for name, keys in groups.items():
        picked = keys[:: max(1, len(keys) // sample)][:sample]
        pipe = r.pipeline(transaction=False)
        for key in picked:
            pipe.execute_command("MEMORY", "USAGE", key, "SAMPLES", "0")
            pipe.ttl(key)
        pipe.type(picked[0])
        replies = pipe.execute()
        sizes = [int(x or 0) for x in replies[0:-1:2]]
        ttls = [int(x) for x in replies[1:-1:2]]
        est = round(len(keys) * sum(sizes) / len(sizes))
        kind = replies[-1].decode() if isinstance(replies[-1], bytes) else str(replies[-1])
        rows.append(
            {
                "pattern": name,
                "type": kind,
                "keys": len(keys),
                "est_bytes": est,
                "bytes_per_unit": round(est / units, 1) if units else None,
                "ttl_s": [min(ttls), max(ttls)],  # -1: no TTL (bounded by length instead, or a defect)
                "long_lived": max(ttls) > LONG_LIVED_S or min(ttls) == -1,
            }
        )
    return sorted(rows, key=lambda x: -x["est_bytes"])


def summary(used_memory_delta: int, rows: list[dict[str, Any]], units: int) -> dict[str, Any]:
    """Per unit: the used_memory delta, and the part held in keys that live for hours."""
    long_lived = sum(x["est_bytes"] for x in rows if x["long_lived"])
    return {
        "units": units,
        "used_memory_delta_bytes": used_memory_delta,
        "bytes_per_unit": round(used_memory_delta / units) if units else None,
        "long_lived_bytes_per_unit": round(long_lived / units) if units else None,
        "sampled_total_bytes": sum(x["est_bytes"] for x in rows),
        "by_pattern": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--units", type=int, default=1, help="divide by this many events/messages")
    args = parser.parse_args()
    print(json.dumps(breakdown(redis_sync.Redis.from_url(args.url), args.units), indent=2))


if __name__ == "__main__":
    main()
