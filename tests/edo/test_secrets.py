"""EDO secrets (Didox password and partner token, Faktura password and private key, provider
tokens) never appear in task results, Redis values or the worker's log; EDO keys all have a TTL."""

from __future__ import annotations

from tests.edo import test_didox, test_fakturauz
from tests.edo.conftest import PARTNER_TOKEN
from tests.harness import Stack


def test_planted_edo_secrets_never_leak(edo_stack: Stack) -> None:
    cid, firm_id, tin = test_didox._tenant(edo_stack)
    doc_id = edo_stack.fakes["didox"].add_incoming(tin, "302936199", "LEAK", test_didox.PRODUCTS)
    assert test_didox._call(edo_stack, "GetDocuments", cid, {"firm_id": firm_id})["ok"] is True
    view = test_didox._job(edo_stack, "ImportDocument", cid, {"id": doc_id, "firm_id": firm_id})
    assert view["state"] == "SUCCESS"
    fcid, ffirm, _ = test_fakturauz._tenant(edo_stack)
    assert test_fakturauz._fcall(edo_stack, "Check", fcid, {"firm_id": ffirm})["ok"] is True
    didox_tokens = list(edo_stack.fakes["didox"].tokens)
    faktura_tokens = list(edo_stack.fakes["fakturauz"].tokens)
    planted = [test_didox.PASSWORD, PARTNER_TOKEN, test_fakturauz.PASSWORD, test_fakturauz.PRIVATE_KEY]
    planted += didox_tokens + faktura_tokens
    assert didox_tokens and faktura_tokens
    haystack = [edo_stack.worker.log().encode(), str(view).encode()]
    for key in edo_stack.redis.scan_iter(count=1000):
        if edo_stack.redis.type(key) == b"string":
            haystack.append(key + b"=" + (edo_stack.redis.get(key) or b""))
        if key.startswith(b"gw:edo:"):
            assert edo_stack.redis.ttl(key) > 0, key
    for secret in planted:
        assert not any(secret.encode() in blob for blob in haystack), f"secret {secret[:8]}… leaked"
