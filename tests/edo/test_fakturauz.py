"""Faktura.uz end to end: REGOS call → API → Celery worker → fake Faktura.uz and fake REGOS."""

from __future__ import annotations

import itertools
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.edo.test_didox import _call, _invoices, _job, _outgoing
from tests.fakes.regos_edo import add_firm, edo_state
from tests.harness import Stack

PASSWORD = "planted-faktura-password-3b7e"
PRIVATE_KEY = "planted-faktura-private-key-a90c"
_firm_ids = itertools.count(random.randint(1000, 9000) * 10 + 5_000_000)

SERVICES = [
    {
        "title": "Cement",
        "catalog": {"code": "02523001001000000"},
        "barcode": "4780000000011",
        "measurementCode": "1505731",
        "measurement": "dona",
        "quantity": 10,
        "pricePerItem": 1000,
        "vatRate": 12,
    },
    {"title": "Service", "catalog": {"code": "10112001001000000"}, "quantity": 1, "pricePerItem": 500, "vatRate": 0},
]


def _tenant(stack: Stack, password: str = PASSWORD) -> tuple[str, int, str]:
    firm_id = next(_firm_ids)
    inn = str(300_000_000 + firm_id % 100_000_000)
    add_firm(stack.regos, firm_id, inn)
    login = f"user-{firm_id}"
    stack.fakes["fakturauz"].add_account(login, PASSWORD, "client-1", PRIVATE_KEY)
    settings = {
        "FAKTURA_UZ_CLIENT_ID": "client-1",
        "FAKTURA_UZ_LOGIN": login,
        "FAKTURA_UZ_PASSWORD": password,
        "FAKTURA_UZ_PRIVATE_KEY": PRIVATE_KEY,
    }
    return stack.new_cid("edo_fakturauz", settings), firm_id, inn


def _fcall(stack: Stack, action: str, cid: str, data: Any, **extra: Any) -> dict[str, Any]:
    return _call(stack, action, cid, data, client="edo_fakturauz", **extra)


def test_list_and_import_once(edo_stack: Stack) -> None:
    cid, firm_id, inn = _tenant(edo_stack)
    unique = edo_stack.fakes["fakturauz"].add_incoming(inn, "302936170", "SIGMA", SERVICES)
    page = _fcall(edo_stack, "GetDocuments", cid, {"firm_id": firm_id})
    assert page["ok"] is True and [r["id"] for r in page["result"]] == [unique], page
    data = {"id": unique, "firm_id": firm_id}
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda n: _fcall(edo_stack, "ImportDocument", cid, data, event_id=f"f{n}"), range(3)))
    views = [edo_stack.wait_task(a["result"]["task_id"]) for a in answers]
    assert all(v["state"] == "SUCCESS" for v in views), [v.get("error") for v in views]
    [invoice] = _invoices(edo_stack, firm_id, "Income")
    assert invoice["external_code"] == unique and invoice["status"] == "Received"
    with edo_stack.regos.lock:
        rows = edo_state(edo_stack.regos).operations[invoice["id"]]
        partner = edo_state(edo_stack.regos).partners[invoice["partner"]["id"]]
    assert partner["inn"] == "302936170" and invoice["contract"]["code"] == "K-1"
    assert [(r["quantity"], r["price"], r["vat_value"]) for r in rows] == [(10, 1000, 12), (1, 500, 0)]


def test_export_three_then_rerun_and_outage(edo_stack: Stack) -> None:
    cid, firm_id, inn = _tenant(edo_stack)
    faktura = edo_stack.fakes["fakturauz"]
    ids = _outgoing(edo_stack, firm_id, 3)
    faktura.fail_next(2, 503, {"Message": "maintenance"}, path_contains="/Api/Document/ImportDocumentRegister")
    view = _job(edo_stack, "ExportDocuments", cid, {"ids": ids, "firm_id": firm_id}, client="edo_fakturauz")
    assert view["state"] == "SUCCESS", view.get("error") or view
    registered = faktura.registered_for(inn)
    assert len(registered) == 3
    assert registered[0]["invoice"]["document"]["column_summary_values"]["column_subtotal_with_taxes"] == "1120.00"
    assert all(i["status"] == "Sent" and i["external_code"] for i in _invoices(edo_stack, firm_id, "Outcome"))
    _job(edo_stack, "ExportDocuments", cid, {"ids": ids, "firm_id": firm_id}, client="edo_fakturauz")
    assert len(faktura.registered_for(inn)) == 3


def test_wrong_password_fails_at_once(edo_stack: Stack) -> None:
    cid, firm_id, _ = _tenant(edo_stack, password="wrong")
    faktura = edo_stack.fakes["fakturauz"]
    before = faktura.token_requests
    answer = _fcall(edo_stack, "Check", cid, {"firm_id": firm_id})
    assert answer["ok"] is False and "FAKTURA_UZ_PASSWORD" in answer["result"]["description"], answer
    assert faktura.token_requests - before == 1
