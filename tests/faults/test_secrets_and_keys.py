"""Secrets never leak, and every Redis key is bounded.

Secrets are planted in REGOS settings, the calls that use them are made end to end, and then
everything else the system wrote — every Redis key and value, the worker's log, the API's log
lines — is searched for them. Afterwards every key in Redis must have a TTL or be one of the
broker's own bounded structures.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from integrations.guards import SMS_CALLBACK_PURPOSE
from integrations.signing import derive_token
from tests.harness import SECRET_KEY, Stack, wait_until

GETSMS_PASSWORD = "planted-getsms-password-7f3a9c"
ESKIZ_PASSWORD = "planted-eskiz-password-41be02"
ESKIZ_EMAIL = "planted-owner@example.uz"
# EDO settings (shared/docs/edo-contract.md §1.4): read per firm at Connect/UpdateSettings and at login
EDO_SECRETS = {
    "DIDOX_PASSWORD": "planted-didox-password-0c5e1b",
    "DIDOX_PARTNER_TOKEN": "planted-didox-partner-token-9d2f",
    "FAKTURA_UZ_PASSWORD": "planted-faktura-password-a81c",
    "FAKTURA_UZ_PRIVATE_KEY": "planted-faktura-private-key-64e0",
}

# Structures Celery/kombu own: bounded by the work in flight and the number of queues, not by time;
# kombu also keeps `_kombu.*` bookkeeping (bindings per queue, delivery deadlines).
BROKER_KEYS = {"webhooks", "lifecycle", "external", "messages", "unacked", "unacked_index", "unacked_mutex"}


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def api_log() -> Iterator[_Collect]:
    handler = _Collect()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


def _redis_dump(stack: Stack) -> Iterator[tuple[bytes, bytes]]:
    for key in stack.redis.scan_iter(count=1000):
        kind = stack.redis.type(key)
        if kind == b"string":
            values = [stack.redis.get(key) or b""]
        elif kind == b"hash":
            values = [k + b"=" + v for k, v in stack.redis.hgetall(key).items()]
        elif kind == b"list":
            values = stack.redis.lrange(key, 0, -1)
        elif kind == b"set":
            values = list(stack.redis.smembers(key))
        elif kind == b"zset":
            values = [m for m, _ in stack.redis.zrange(key, 0, -1, withscores=True)]
        else:
            values = []
        for value in values:
            yield key, value


def test_planted_secrets_appear_nowhere(stack: Stack, api_log: _Collect) -> None:
    getsms = stack.new_cid("getsms", {"GETSMS_LOGIN": "shop", "GETSMS_PASSWORD": GETSMS_PASSWORD})
    eskiz = stack.new_cid("eskiz_sms", {"ESKIZ_EMAIL": ESKIZ_EMAIL, "ESKIZ_PASSWORD": ESKIZ_PASSWORD})
    data = [{"recipient": "998901234567", "message": "hello"}, {"recipient": "998901234568", "message": "hi"}]
    for client, cid in (("getsms", getsms), ("eskiz_sms", eskiz)):
        assert stack.call(client, "Connect", cid).status_code == 200
        task_id = stack.call(client, "SendMessages", cid, data).json()["result"]["task_id"]
        assert stack.wait_task(task_id)["state"] == "SUCCESS"
        stack.call(client, "UpdateSettings", cid, {"ESKIZ_PASSWORD": ESKIZ_PASSWORD})
    from tests.fakes.regos_edo import add_firm  # registers the EDO methods on the fake REGOS

    add_firm(stack.regos, 7001, "310007001")
    edo = {
        client: stack.new_cid(client, {**EDO_SECRETS, "FAKTURA_UZ_LOGIN": "shop", "EDO_AUTO_IMPORT": "true"})
        for client in ("edo_didox", "edo_fakturauz")
    }
    for client, cid in edo.items():
        for action in ("Connect", "UpdateSettings"):
            assert stack.call(client, action, cid).json()["ok"] is True
    # Check logs in with the planted settings; no Didox account exists for them (or, without the EDO
    # tests' fakes, no partner token is configured), so it is refused naming the setting to fix
    edo_check = stack.call("edo_didox", "Check", edo["edo_didox"], {"firm_id": 7001}).json()
    assert edo_check["ok"] is False and "DIDOX_" in edo_check["result"]["description"], edo_check
    sig = derive_token(SECRET_KEY.encode(), SMS_CALLBACK_PURPOSE, eskiz)
    report = {"user_sms_id": "x", "status": "DELIVRD", "message_id": "1"}
    task_id = stack.client.post(f"/clients/eskiz_sms/external/{eskiz}/delivery?sig={sig}", json=report).json()
    stack.wait_task(task_id["result"]["task_id"])

    eskiz_tokens = [t for t, account in stack.fakes["eskiz"].tokens.items() if account == ESKIZ_EMAIL]
    assert eskiz_tokens, "the Eskiz integration should have logged in"
    secrets = {
        GETSMS_PASSWORD,
        ESKIZ_PASSWORD,
        *EDO_SECRETS.values(),
        sig,
        SECRET_KEY,
        *eskiz_tokens,
        *(t for t in stack.regos.valid_tokens if len(t) >= 8),
    }
    places = {f"redis {key!r}": value for key, value in _redis_dump(stack)}
    places["worker log"] = stack.worker.log().encode()
    places["api log"] = "\n".join(api_log.lines).encode()
    leaks = [(secret, place) for secret in secrets for place, text in places.items() if secret.encode() in text]
    assert not leaks, leaks


def test_every_redis_key_is_bounded(stack: Stack) -> None:
    cid = stack.new_cid("getsms", {"GETSMS_LOGIN": "shop", "GETSMS_PASSWORD": "pw"})
    task_id = stack.call("getsms", "SendMessages", cid, [{"recipient": "998901234567", "message": "x"}]).json()
    wait_until(lambda: stack.task(task_id["result"]["task_id"])["state"] == "SUCCESS", what="send")
    unbounded = [
        key
        for key in stack.redis.scan_iter(count=1000)
        if stack.redis.ttl(key) == -1 and key.decode() not in BROKER_KEYS and not key.startswith(b"_kombu.")
    ]
    assert not unbounded, unbounded
