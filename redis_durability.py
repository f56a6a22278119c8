"""Can the Redis in use lose acknowledged work? Checked at startup by the API and the workers.

"200 means durably queued" holds only on a Redis with the append-only file on and a
`maxmemory-policy` that never evicts: without AOF a restart loses every queued task; an
evicting policy drops queued tasks or results under memory pressure. The check reads
`CONFIG GET appendonly|appendfsync|maxmemory-policy` (managed Redis may disable CONFIG: then
the durability is "unknown") and prints one line naming the Redis (without its password).
Outside production a non-durable Redis is a loud warning; in production it refuses the start
unless ACCEPT_NON_DURABLE_REDIS=true.

Used by `api/` and `workers/`: it imports only `redis` and `settings`, never Celery or the SDK.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.asyncio import Redis as AsyncRedis

from settings import Settings

KEYS = ("appendonly", "appendfsync", "maxmemory-policy")
EVICTION_FREE_POLICY = "noeviction"


@dataclass(frozen=True)
class Durability:
    """What the Redis says about itself; `None` values: CONFIG is disabled or Redis did not answer."""

    appendonly: str | None
    appendfsync: str | None
    maxmemory_policy: str | None
    reachable: bool = True

    @property
    def known(self) -> bool:
        return self.reachable and None not in (self.appendonly, self.appendfsync, self.maxmemory_policy)

    @property
    def problems(self) -> list[str]:
        """How acknowledged work can be lost; empty when durable or unknown."""
        found = []
        if self.appendonly is not None and self.appendonly != "yes":
            found.append("appendonly is off: a Redis restart loses every queued task")
        if self.appendfsync == "no":
            found.append("appendfsync is 'no': a host crash loses up to ~30 s of acknowledged work")
        if self.maxmemory_policy is not None and self.maxmemory_policy != EVICTION_FREE_POLICY:
            found.append(f"maxmemory-policy is {self.maxmemory_policy}: under memory pressure Redis drops queued work")
        return found

    @property
    def verdict(self) -> str:
        if not self.reachable:
            return "unreachable"
        if self.problems:
            return "NOT durable"
        return "durable" if self.known else "unknown"

    def as_dict(self) -> dict[str, Any]:
        return {
            "appendonly": self.appendonly or "unknown",
            "appendfsync": self.appendfsync or "unknown",
            "maxmemory_policy": self.maxmemory_policy or "unknown",
            "durable": self.verdict == "durable",
            "verdict": self.verdict,
            "problems": self.problems,
        }


def public_url(url: str) -> str:
    """The Redis URL without its password, fit for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _value(answer: dict[Any, Any], key: str) -> str | None:
    raw = answer.get(key, answer.get(key.encode()))
    return raw.decode() if isinstance(raw, bytes) else raw


def _from_answers(answers: list[Any]) -> Durability:
    values = [_value(answer, key) for answer, key in zip(answers, KEYS, strict=True)]
    return Durability(*values)


# Managed Redis (ElastiCache, Memorystore, …) often renames or disables CONFIG: durability unknown.
CONFIG_DISABLED = Durability(None, None, None)


def read(url: str, timeout: float = 2.0) -> Durability:
    """Ask the Redis at `url` (a short-lived connection)."""
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        pipe = client.pipeline(transaction=False)
        for key in KEYS:  # one key per CONFIG GET: Redis < 7 takes a single pattern
            pipe.config_get(key)
        return _from_answers(pipe.execute())
    except redis.ResponseError:
        return CONFIG_DISABLED
    except (redis.RedisError, OSError):
        return Durability(None, None, None, reachable=False)
    finally:
        client.close()


async def read_async(client: AsyncRedis) -> Durability:
    """The same over the API's pooled client; connection errors propagate to the caller."""
    try:
        async with client.pipeline(transaction=False) as pipe:
            for key in KEYS:
                pipe.config_get(key)
            return _from_answers(await pipe.execute())
    except redis.ResponseError:
        return CONFIG_DISABLED


def describe(url: str, durability: Durability) -> str:
    values = " ".join(f"{key}={durability.as_dict()[key.replace('-', '_')]}" for key in KEYS)
    return f"redis: {public_url(url)} {values} ({durability.verdict})"


def refuses(settings: Settings, durability: Durability) -> bool:
    """Production does not acknowledge work it may lose, unless the operator accepted the risk."""
    return settings.environment == "production" and bool(durability.problems) and not settings.accept_non_durable_redis


def check_at_startup(settings: Settings, process: str) -> Durability:
    """Print the one line about the Redis in use, warn loudly, or end the process (exit code 2)."""
    url = settings.broker_url
    durability = read(url)
    print(describe(url, durability), file=sys.stderr, flush=True)
    if not durability.reachable:
        print(f"{process}: WARNING Redis did not answer; durability not checked", file=sys.stderr, flush=True)
    elif not durability.known:
        print(
            f"{process}: WARNING CONFIG GET is not allowed on this Redis: make sure it runs with "
            "appendonly yes and maxmemory-policy noeviction, or acknowledged work may be lost",
            file=sys.stderr,
            flush=True,
        )
    if not durability.problems:
        return durability
    banner = "!" * 78
    lines = [banner, f"{process}: WARNING this Redis can lose work the gateway has acknowledged:"]
    lines += [f"  - {problem}" for problem in durability.problems]
    lines.append("  fix: run redis-server with --appendonly yes --appendfsync everysec --maxmemory-policy noeviction")
    if refuses(settings, durability):
        lines.append(f"{process}: refusing to start in production; ACCEPT_NON_DURABLE_REDIS=true accepts the risk")
    lines.append(banner)
    print("\n".join(lines), file=sys.stderr, flush=True)
    if refuses(settings, durability):
        raise SystemExit(2)
    return durability
