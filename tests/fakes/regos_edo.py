"""The REGOS methods EDO uses, registered on FakeRegos (import this module to enable them).

Shapes from shared/docs/edo-contract.md §4 (docs.regos.uz pages named there win):
- `DocInvoice/SetStatus`, `/SetExternalData` and `InvoiceOperation/Add` need the invoice locked
  by the caller (§4 "[RD]: invoice locked by caller"); otherwise in-band error 400.
- `DocInvoice/Lock`/`Unlock` take `{"ids": [...]}` (§4, upstream's `{"id"}` is wrong) and answer
  `{"row_affected", "ids": [null]}` (§4 "update results may carry ids: [null]").
- `SetStatus`/`SetExternalData` answer `result: null` (§4 "`{}` or null").
- `DocInvoice/Add` requires `vat_calculation_type` (§4 [RD]); `DocContract/Add` requires every field;
  `DocContract/GetShort` ignores `search` (§4 [RD]); `InvoiceOperation/Add` takes 1 to 250 rows of one
  document, `Item/Import` and `Item/Match` ≤ 250 rows (§4 [RD]).

State in `edo_state(fake)`: firms, partners, contracts, invoices, operations, items, locks.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.regos import BAD_REQUEST, LIST_FIELDS, FakeRegos, InBandError, Page, check_object
from tests.fakes.regos import _setting_get as base_setting_get

STATUSES = ("New", "InSentProgress", "Sent", "InReceivedProgress", "Received", "ErrorSent", "ErrorReceived", "Unknown")
COMPARATIONS = ("ICPSBarcode", "ICPS", "Barcode")


@dataclass
class EdoState:
    firms: dict[int, dict[str, Any]] = field(default_factory=dict)
    partners: dict[int, dict[str, Any]] = field(default_factory=dict)
    contracts: dict[int, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[int, dict[str, Any]] = field(default_factory=dict)
    operations: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    items: dict[int, dict[str, Any]] = field(default_factory=dict)
    locks: dict[int, str] = field(default_factory=dict)  # invoice id → cid holding the lock
    firm_settings: dict[tuple[str, int], dict[str, str]] = field(default_factory=dict)  # (cid, firm) → settings
    seq: Any = field(default_factory=lambda: itertools.count(100))


def edo_state(fake: FakeRegos) -> EdoState:
    return fake.__dict__.setdefault("edo", EdoState())


def add_firm(fake: FakeRegos, firm_id: int, inn: str, name: str = "BETA MCHJ") -> dict[str, Any]:
    row = {
        "id": firm_id,
        "name": name,
        "fullname": f'"{name}"',
        "inn": inn,
        "vat_index": "326010011111",
        "mfo": "00401",
        "rs": "20208000900000000001",
        "bank_name": "Bank",
        "address": "Tashkent",
        "boss_name": "Boss",
        "phones": "+998900000000",
    }
    with fake.lock:
        edo_state(fake).firms[firm_id] = row
    return row


def add_partner(fake: FakeRegos, inn: str, name: str) -> dict[str, Any]:
    with fake.lock:
        state = edo_state(fake)
        pid = next(state.seq)
        row = {
            "id": pid,
            "name": name,
            "fullname": name,
            "inn": inn,
            "legal_status": "Legal",
            "address": "Samarkand",
            "vat_index": None,
            "mfo": None,
            "rs": None,
            "boss_name": "Partner boss",
        }
        state.partners[pid] = row
        return row


def add_item(fake: FakeRegos, name: str, icps: str, barcode: str | None = None) -> dict[str, Any]:
    with fake.lock:
        return _new_item(edo_state(fake), name, icps, barcode)


def add_outgoing_invoice(
    fake: FakeRegos, firm_id: int, partner: dict[str, Any], rows: list[tuple[dict[str, Any], float, float]]
) -> dict[str, Any]:
    """A posted outgoing invoice with status InSentProgress (what REGOS sets on DocInvoice/Send, §1.2)."""
    with fake.lock:
        state = edo_state(fake)
        iid = next(state.seq)
        firm = state.firms[firm_id]
        invoice = {
            "id": iid,
            "date": 1_785_000_000,
            "code": f"INV-{iid}",
            "invoice_type": "Outcome",
            "contract": {"id": 1, "code": "D-12", "name": "D-12", "date": 1_774_000_000},
            "firm": {"id": firm_id, "name": firm["name"]},
            "partner": {"id": partner["id"], "name": partner["name"]},
            "currency": {"id": 1, "code_num": "860", "code_chr": "UZS"},
            "exchange_rate": 1,
            "amount": sum(q * p * 1.12 for _, q, p in rows),
            "status": "InSentProgress",
            "external_code": None,
            "performed": True,
            "vat_calculation_type": "Include",
        }
        state.invoices[iid] = invoice
        state.operations[iid] = [
            {
                "id": next(state.seq),
                "item": item,
                "quantity": q,
                "price": p,
                "amount": q * p,
                "total": q * p * 1.12,
                "vat_value": 12,
                "vat_amount": q * p * 0.12,
                "vat_calculation_type": "Include",
            }
            for item, q, p in rows
        ]
        return invoice


def _require_lock(fake: FakeRegos, cid: str, method: str, invoice_id: int) -> dict[str, Any]:
    state = edo_state(fake)
    if invoice_id not in state.invoices:
        raise InBandError(404, f"{method}: document {invoice_id} not found")
    if state.locks.get(invoice_id) != cid:
        raise InBandError(BAD_REQUEST, f"{method}: document {invoice_id} must be locked by the caller")
    return state.invoices[invoice_id]


def _firm_get(fake: FakeRegos, cid: str, body: Any) -> Page:
    body = check_object("Firm/Get", body, {"ids": [int], **LIST_FIELDS})
    rows = [r for i, r in edo_state(fake).firms.items() if not body.get("ids") or i in body["ids"]]
    return fake.page(rows, body)


def _invoice_get(fake: FakeRegos, cid: str, body: Any) -> Page:
    fields = {"ids": [int], "firm_ids": [int], "invoice_type": str, "external_code": str, **LIST_FIELDS}
    body = check_object("DocInvoice/Get", body, fields)
    rows = list(edo_state(fake).invoices.values())
    if body.get("ids"):
        rows = [r for r in rows if r["id"] in body["ids"]]
    if body.get("firm_ids"):
        rows = [r for r in rows if r["firm"]["id"] in body["firm_ids"]]
    if body.get("invoice_type"):
        rows = [r for r in rows if r["invoice_type"] == body["invoice_type"]]
    if body.get("external_code"):
        rows = [r for r in rows if r["external_code"] == body["external_code"]]
    return fake.page(rows, body)


def _invoice_add(fake: FakeRegos, cid: str, body: Any) -> dict[str, Any]:
    required = ("date", "contract_id", "firm_id", "partner_id", "currency_id", "invoice_type", "vat_calculation_type")
    fields = {name: int for name in required} | {"invoice_type": str, "vat_calculation_type": str}
    body = check_object("DocInvoice/Add", body, fields | {"description": str, "attached_user_id": int}, required)
    state = edo_state(fake)
    contract = state.contracts.get(body["contract_id"])
    if contract is None or contract["direction"] != body["invoice_type"]:  # §4: direction must match type
        raise InBandError(BAD_REQUEST, "DocInvoice/Add: contract not found or of another direction")
    iid = next(state.seq)
    partner = state.partners[body["partner_id"]]
    state.invoices[iid] = {
        "id": iid,
        "date": body["date"],
        "code": str(iid),
        "invoice_type": body["invoice_type"],
        "contract": contract,
        "firm": {"id": body["firm_id"]},
        "partner": {"id": partner["id"], "name": partner["name"]},
        "currency": {"id": 1},
        "amount": 0,
        "status": "New",
        "external_code": None,
        "performed": False,
        "vat_calculation_type": body["vat_calculation_type"],
    }
    state.operations[iid] = []
    return {"new_id": iid}


def _invoice_set_status(fake: FakeRegos, cid: str, body: Any) -> None:
    body = check_object(
        "DocInvoice/SetStatus",
        body,
        {"document_id": int, "status": str, "error_message": str},
        ("document_id", "status"),
    )
    invoice = _require_lock(fake, cid, "DocInvoice/SetStatus", body["document_id"])
    if body["status"] not in STATUSES:
        raise InBandError(BAD_REQUEST, f"DocInvoice/SetStatus: unknown status {body['status']}")
    invoice["status"] = body["status"]
    # §4 [RD]: the message is kept only for Error* statuses, ≤ 1024 characters.
    invoice["error_message"] = (body.get("error_message") or "")[:1024] if body["status"].startswith("Error") else None
    return None


def _invoice_set_external(fake: FakeRegos, cid: str, body: Any) -> None:
    fields = {"document_id": int, "connected_integration_id": str, "external_id": str, "roaming_id": str}
    body = check_object(
        "DocInvoice/SetExternalData", body, fields, ("document_id", "connected_integration_id", "external_id")
    )
    invoice = _require_lock(fake, cid, "DocInvoice/SetExternalData", body["document_id"])
    if len(body["external_id"]) > 100:
        raise InBandError(BAD_REQUEST, "DocInvoice/SetExternalData: external_id longer than 100 characters")
    invoice["external_code"] = body["external_id"]
    invoice["roaming_id"] = body.get("roaming_id")
    return None


def _lock(fake: FakeRegos, cid: str, body: Any, *, lock: bool) -> dict[str, Any]:
    method = "DocInvoice/Lock" if lock else "DocInvoice/Unlock"
    body = check_object(method, body, {"ids": [int]}, ("ids",))
    state = edo_state(fake)
    for iid in body["ids"]:
        holder = state.locks.get(iid)
        if holder is not None and holder != cid:
            raise InBandError(BAD_REQUEST, f"{method}: document {iid} is locked by another user")
        if lock:
            state.locks[iid] = cid
        else:
            state.locks.pop(iid, None)
    return {"row_affected": len(body["ids"]), "ids": [None] * len(body["ids"])}


def _operation_get(fake: FakeRegos, cid: str, body: Any) -> Page:
    body = check_object("InvoiceOperation/Get", body, {"document_ids": [int], **LIST_FIELDS}, ("document_ids",))
    if len(body["document_ids"]) != 1:
        raise InBandError(BAD_REQUEST, "InvoiceOperation/Get: exactly one document id")
    return fake.page(edo_state(fake).operations.get(body["document_ids"][0], []), body)


def _operation_add(fake: FakeRegos, cid: str, body: Any) -> dict[str, Any]:
    method = "InvoiceOperation/Add"
    if not isinstance(body, list) or not 1 <= len(body) <= 250:
        raise InBandError(BAD_REQUEST, f"{method}: 1 to 250 rows")
    fields = {"document_id": int, "item_id": int, "quantity": float, "price": float, "vat_value": float}
    rows = [check_object(method, r, fields, ("document_id", "item_id", "quantity", "price")) for r in body]
    if len({r["document_id"] for r in rows}) != 1:
        raise InBandError(BAD_REQUEST, f"{method}: rows of one document only")
    _require_lock(fake, cid, method, rows[0]["document_id"])
    state = edo_state(fake)
    ids = []
    for row in rows:
        oid = next(state.seq)
        item = state.items.get(row["item_id"])
        if item is None:
            raise InBandError(BAD_REQUEST, f"{method}: item {row['item_id']} not found")
        state.operations[row["document_id"]].append({"id": oid, "item": item, **row})
        ids.append(oid)
    return {"row_affected": len(ids), "ids": ids}


def _partner_get(fake: FakeRegos, cid: str, body: Any) -> Page:
    body = check_object("Partner/Get", body, {"ids": [int], "legal_status": str, "search": str, **LIST_FIELDS})
    rows = list(edo_state(fake).partners.values())
    if body.get("ids"):
        rows = [r for r in rows if r["id"] in body["ids"]]
    if body.get("search"):  # a substring search over name and TIN, like the REGOS UI
        rows = [r for r in rows if body["search"] in (r["inn"] or "") or body["search"] in r["name"]]
    return fake.page(rows, body)


def _partner_add(fake: FakeRegos, cid: str, body: Any) -> dict[str, Any]:
    fields = {"group_id": int, "legal_status": str, "name": str, "fullname": str, "inn": str}
    body = check_object("Partner/Add", body, fields, ("group_id", "legal_status", "name"))
    state = edo_state(fake)
    pid = next(state.seq)
    state.partners[pid] = {
        "id": pid,
        "address": None,
        "vat_index": None,
        "mfo": None,
        "rs": None,
        "boss_name": None,
        "fullname": None,
        "inn": None,
        **body,
    }
    return {"new_id": pid}


def _contract_get_short(fake: FakeRegos, cid: str, body: Any) -> Page:
    fields = {"direction": str, "firm_ids": [int], "partner_ids": [int], "search": str, **LIST_FIELDS}
    body = check_object("DocContract/GetShort", body, fields)
    rows = list(edo_state(fake).contracts.values())
    if body.get("direction"):
        rows = [r for r in rows if r["direction"] == body["direction"]]
    if body.get("firm_ids"):
        rows = [r for r in rows if r["firm_id"] in body["firm_ids"]]
    if body.get("partner_ids"):
        rows = [r for r in rows if r["partner_id"] in body["partner_ids"]]
    return fake.page(rows, body)  # `search` is ignored (§4 [RD])


def _contract_add(fake: FakeRegos, cid: str, body: Any) -> dict[str, Any]:
    names = (
        "code",
        "name",
        "details",
        "date",
        "start_date",
        "end_date",
        "direction",
        "firm_id",
        "partner_id",
        "amount",
        "currency_id",
        "active",
    )
    fields = (
        {n: str for n in ("code", "name", "details", "direction")}
        | {n: int for n in ("date", "start_date", "end_date", "firm_id", "partner_id", "currency_id")}
        | {"amount": float, "active": bool}
    )
    body = check_object("DocContract/Add", body, fields, names)
    state = edo_state(fake)
    kid = next(state.seq)
    state.contracts[kid] = {"id": kid, **body}
    return {"new_id": kid}


def _item_key(kind: str, item: dict[str, Any]) -> str | None:
    if kind == "ICPSBarcode":
        return f"{item['icps']}|{item['base_barcode']}" if item.get("base_barcode") else None
    return item.get("icps") if kind == "ICPS" else item.get("base_barcode")


def _item_import(fake: FakeRegos, cid: str, body: Any) -> list[dict[str, Any]]:
    fields = {
        "comparation_value": str,
        "barcode_separator": str,
        "group_id": int,
        "unit_id": int,
        "vat_value_id": int,
        "data": [dict],
    }
    body = check_object("Item/Import", body, fields, ("comparation_value", "data"))
    kind = body["comparation_value"]
    if kind not in COMPARATIONS or not 1 <= len(body["data"]) <= 250:
        raise InBandError(BAD_REQUEST, "Item/Import: bad comparation_value or 1 to 250 rows")
    state = edo_state(fake)
    out = []
    for raw in body["data"]:
        row = check_object(
            "Item/Import",
            raw,
            {"index": int, "name": str, "icps": str, "icpsbarcode": str, "barcodes": str, "package_code": str},
            ("index", "name"),
        )
        value = row.get("icpsbarcode") or row.get("icps") if kind != "Barcode" else row.get("barcodes")
        found = next((i for i in state.items.values() if value and _item_key(kind, i) == value), None)
        if found is None and value:
            icps, _, barcode = (row.get("icpsbarcode") or "").partition("|")
            found = _new_item(state, row["name"], row.get("icps") or icps or None, barcode or row.get("barcodes"))
        out.append({"success": found is not None, "index": row["index"], "item_id": found["id"] if found else None})
    return out


def _new_item(state: EdoState, name: str, icps: str | None, barcode: str | None) -> dict[str, Any]:
    iid = next(state.seq)
    row = {
        "id": iid,
        "name": name,
        "icps": icps,
        "package_code": "1505731",
        "base_barcode": barcode,
        "origin": "NotSpecified",
    }
    state.items[iid] = row
    return row


def _item_match(fake: FakeRegos, cid: str, body: Any) -> list[dict[str, Any]]:
    body = check_object("Item/Match", body, {"type": str, "data": [dict]}, ("type", "data"))
    if body["type"] not in COMPARATIONS or not 1 <= len(body["data"]) <= 250:
        raise InBandError(BAD_REQUEST, "Item/Match: bad type or 1 to 250 rows")
    items = list(edo_state(fake).items.values())
    out = []
    for raw in body["data"]:
        row = check_object("Item/Match", raw, {"index": int, "value": str}, ("index", "value"))
        found = next((i for i in items if _item_key(body["type"], i) == row["value"]), None)
        out.append({"index": row["index"], "item_id": found["id"] if found else None, "value": row["value"]})
    return out


def set_firm_settings(fake: FakeRegos, cid: str, firm_id: int, settings: dict[str, str]) -> None:
    """Settings of one firm of a connected integration (REGOS keeps settings per firm, edo-contract.md §1.4)."""
    with fake.lock:
        edo_state(fake).firm_settings[(cid, firm_id)] = dict(settings)


def _setting_get(fake: FakeRegos, cid: str, body: Any) -> Page:
    """`ConnectedIntegrationSetting/Get` with `firm_id`: that firm's settings where some were set
    (set_firm_settings), else the connected integration's (tests/fakes/regos.py)."""
    if isinstance(body, dict) and isinstance(body.get("firm_id"), int):
        target = body.get("connected_integration_id") or cid
        own = edo_state(fake).firm_settings.get((target, body["firm_id"]))
        if own is not None:
            return fake.page([{"key": k, "value": v, "last_update": 0} for k, v in own.items()], body)
    return base_setting_get(fake, cid, body)


for _name, _handler in {
    "ConnectedIntegrationSetting/Get": _setting_get,
    "Firm/Get": _firm_get,
    "DocInvoice/Get": _invoice_get,
    "DocInvoice/Add": _invoice_add,
    "DocInvoice/SetStatus": _invoice_set_status,
    "DocInvoice/SetExternalData": _invoice_set_external,
    "DocInvoice/Lock": lambda fake, cid, body: _lock(fake, cid, body, lock=True),
    "DocInvoice/Unlock": lambda fake, cid, body: _lock(fake, cid, body, lock=False),
    "InvoiceOperation/Get": _operation_get,
    "InvoiceOperation/Add": _operation_add,
    "Partner/Get": _partner_get,
    "Partner/Add": _partner_add,
    "DocContract/GetShort": _contract_get_short,
    "DocContract/Add": _contract_add,
    "Item/Import": _item_import,
    "Item/Match": _item_match,
}.items():
    FakeRegos.register_method(_name, _handler)
