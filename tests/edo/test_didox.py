"""Didox end to end: REGOS call → API → Celery worker → fake Didox and fake REGOS → REGOS state.

Each test uses its own firm (TIN) and connected integration, and reads only that firm's state.
"""

from __future__ import annotations

import itertools
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.fakes.regos_edo import add_firm, add_item, add_outgoing_invoice, add_partner, edo_state
from tests.harness import Stack

PASSWORD = "planted-didox-password-9e41"
_firm_ids = itertools.count(random.randint(1000, 9000) * 10)

PRODUCTS = [
    {"name": "Cement", "catalogcode": "02523001001000000", "barcode": "4780000000011", "count": 10, "summa": 1000},
    {"name": "Sand", "catalogcode": "02505001001000000", "count": 2.5, "summa": 400, "vatrate": 0, "withoutvat": True},
]


def _tenant(stack: Stack, password: str = PASSWORD) -> tuple[str, int, str]:
    firm_id = next(_firm_ids)
    tin = str(300_000_000 + firm_id)
    add_firm(stack.regos, firm_id, tin)
    stack.fakes["didox"].add_account(tin, PASSWORD)
    cid = stack.new_cid("edo_didox", {"DIDOX_PASSWORD": password})
    return cid, firm_id, tin


def _call(stack: Stack, action: str, cid: str, data: Any, client: str = "edo_didox", **extra: Any) -> dict[str, Any]:
    response = stack.call(client, action, cid, data, **extra)
    assert response.status_code == 200, response.text
    return response.json()


def _job(stack: Stack, action: str, cid: str, data: Any, **extra: Any) -> dict[str, Any]:
    answer = _call(stack, action, cid, data, **extra)
    assert answer["result"]["scheduler_uuid"] == answer["result"]["task_id"], answer
    return stack.wait_task(answer["result"]["task_id"])


def _invoices(stack: Stack, firm_id: int, kind: str) -> list[dict[str, Any]]:
    with stack.regos.lock:
        state = edo_state(stack.regos)
        return [dict(i) for i in state.invoices.values() if i["firm"]["id"] == firm_id and i["invoice_type"] == kind]


def test_get_documents_answers_with_the_page(edo_stack: Stack) -> None:
    cid, firm_id, tin = _tenant(edo_stack)
    doc_id = edo_stack.fakes["didox"].add_incoming(tin, "302936161", '"ALFA" MCHJ', PRODUCTS)
    answer = _call(edo_stack, "GetDocuments", cid, {"firm_id": firm_id, "limit": 10, "offset": 0})
    assert answer["ok"] is True, answer
    assert answer["total"] == 1 and answer["next_offset"] == 0
    [row] = answer["result"]
    assert row["id"] == doc_id and row["partner_inn"] == "302936161" and row["date"] == "04.08.2026 00:00:00"


def test_document_content_alias_lists_rows(edo_stack: Stack) -> None:
    cid, firm_id, tin = _tenant(edo_stack)
    doc_id = edo_stack.fakes["didox"].add_incoming(tin, "302936161", "ALFA", PRODUCTS)
    answer = _call(edo_stack, "GetDocumentContent", cid, {"document_id": doc_id, "firm_id": firm_id})
    assert answer["ok"] is True, answer
    assert [(r["name"], r["price"], r["vat_rate"], r["origin"]) for r in answer["result"]] == [
        ("Cement", "1000.00", 12.0, 0),
        ("Sand", "400.00", None, 0),
    ]


def test_unknown_action_is_refused(edo_stack: Stack) -> None:
    cid, _, _ = _tenant(edo_stack)
    response = edo_stack.call("edo_didox", "SendMessages", cid, [])
    assert response.status_code == 400 and "get_documents" in response.text


def test_import_creates_partner_contract_and_rows(edo_stack: Stack) -> None:
    cid, firm_id, tin = _tenant(edo_stack)
    add_item(edo_stack.regos, "Cement", "02523001001000000", "4780000000011")
    doc_id = edo_stack.fakes["didox"].add_incoming(tin, "302936161", "ALFA", PRODUCTS)
    view = _job(edo_stack, "ImportDocument", cid, {"id": doc_id, "firm_id": firm_id})
    assert view["state"] == "SUCCESS", view.get("error") or view
    [invoice] = _invoices(edo_stack, firm_id, "Income")
    assert invoice["external_code"] == doc_id and invoice["status"] == "Received"
    assert invoice["vat_calculation_type"] == "Include"
    with edo_stack.regos.lock:
        state = edo_state(edo_stack.regos)
        rows = state.operations[invoice["id"]]
        partner = state.partners[invoice["partner"]["id"]]
        assert invoice["id"] not in state.locks  # always unlocked
    assert partner["inn"] == "302936161"
    assert invoice["contract"]["code"] == "1" and invoice["contract"]["direction"] == "Income"
    assert [(r["quantity"], r["price"], r["vat_value"]) for r in rows] == [(10, 1000, 12), (2.5, 400, -1)]


def test_same_import_twice_and_concurrently_creates_one_invoice(edo_stack: Stack) -> None:
    cid, firm_id, tin = _tenant(edo_stack)
    doc_id = edo_stack.fakes["didox"].add_incoming(tin, "302936162", "GAMMA", PRODUCTS)
    data = {"id": doc_id, "firm_id": firm_id}
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda n: _call(edo_stack, "ImportDocument", cid, data, event_id=f"e{n}"), range(4)))
    views = [edo_stack.wait_task(a["result"]["task_id"]) for a in answers]
    assert all(v["state"] == "SUCCESS" for v in views), views
    again = _job(edo_stack, "ImportDocument", cid, data)
    assert again["result"]["result"]["already_imported"] is True
    assert len(_invoices(edo_stack, firm_id, "Income")) == 1


def test_import_of_unknown_document_fails_naming_it(edo_stack: Stack) -> None:
    cid, firm_id, _ = _tenant(edo_stack)
    view = _job(edo_stack, "ImportDocument", cid, {"id": "AB" * 16, "firm_id": firm_id})
    assert view["state"] == "FAILURE" and "Document not found" in str(view), view
    assert _invoices(edo_stack, firm_id, "Income") == []


def test_import_row_without_codes_fails_before_creating_anything(edo_stack: Stack) -> None:
    cid, firm_id, tin = _tenant(edo_stack)
    doc_id = edo_stack.fakes["didox"].add_incoming(
        tin, "302936163", "DELTA", [{"name": "Mystery", "count": 1, "summa": 5}]
    )
    view = _job(edo_stack, "ImportDocument", cid, {"id": doc_id, "firm_id": firm_id})
    assert view["state"] == "FAILURE" and "row 1 (Mystery)" in str(view), view
    assert _invoices(edo_stack, firm_id, "Income") == []


def _outgoing(stack: Stack, firm_id: int, n: int) -> list[int]:
    partner = add_partner(stack.regos, "309999999", "OMEGA")
    item = add_item(stack.regos, "Brick", "02523001001000001")
    return [add_outgoing_invoice(stack.regos, firm_id, partner, [(item, 4, 250.0)])["id"] for _ in range(n)]


def test_export_three_invoices_creates_three_drafts_once(edo_stack: Stack) -> None:
    cid, firm_id, tin = _tenant(edo_stack)
    ids = _outgoing(edo_stack, firm_id, 3)
    view = _job(edo_stack, "ExportDocuments", cid, {"ids": ids, "firm_id": firm_id})
    assert view["state"] == "SUCCESS", view.get("error") or view
    drafts = edo_stack.fakes["didox"].drafts_of(tin)
    assert len(drafts) == 3
    assert drafts[0]["ProductList"]["Products"][0]["DeliverySumWithVat"] == 1120.0
    invoices = {i["id"]: i for i in _invoices(edo_stack, firm_id, "Outcome")}
    assert all(invoices[i]["external_code"] and invoices[i]["status"] == "InSentProgress" for i in ids)
    rerun = _job(edo_stack, "ExportDocuments", cid, {"ids": ids, "firm_id": firm_id})
    assert rerun["state"] == "SUCCESS" and len(edo_stack.fakes["didox"].drafts_of(tin)) == 3


def test_provider_outage_mid_export_is_retried_to_success(edo_stack: Stack) -> None:
    cid, firm_id, tin = _tenant(edo_stack)
    ids = _outgoing(edo_stack, firm_id, 3)
    edo_stack.fakes["didox"].fail_next(
        2, 503, {"data": {"status": "error", "message": "maintenance"}}, path_contains="/v1/documents/002/create/"
    )
    view = _job(edo_stack, "ExportDocuments", cid, {"ids": ids, "firm_id": firm_id})
    assert view["state"] == "SUCCESS", view.get("error") or view
    assert len(edo_stack.fakes["didox"].drafts_of(tin)) == 3
    assert all(i["status"] == "InSentProgress" and i["external_code"] for i in _invoices(edo_stack, firm_id, "Outcome"))


@pytest.mark.parametrize("action", ["Check", "ImportDocument"])
def test_wrong_password_fails_at_once(edo_stack: Stack, action: str) -> None:
    cid, firm_id, _ = _tenant(edo_stack, password="wrong-password")
    didox = edo_stack.fakes["didox"]
    before = didox.logins
    data = {"firm_id": firm_id} if action == "Check" else {"id": "CD" * 16, "firm_id": firm_id}
    answer = _call(edo_stack, action, cid, data)
    if action == "Check":
        assert answer["ok"] is False and "DIDOX_PASSWORD" in answer["result"]["description"], answer
    else:
        view = edo_stack.wait_task(answer["result"]["task_id"])
        assert view["state"] == "FAILURE" and "not retried" in str(view), view
    assert didox.logins - before == 1  # one try: a retry could lock the account
