"""`InvoiceOperation/*`: rows of a VAT invoice (shared/docs/edo-contract.md §4)."""

from __future__ import annotations

from decimal import Decimal

from schemas.api.base import Code, ReadModel, RequestModel
from schemas.api.docs.invoice import Number


class OperationItem(ReadModel):
    id: int | None = None
    name: str | None = None
    icps: Code | None = None
    package_code: Code | None = None
    base_barcode: Code | None = None
    origin: str | None = None  # BuyingAndSelling | Produced | Service | NotSpecified


class InvoiceOperation(ReadModel):
    id: int | None = None
    item: OperationItem | None = None
    quantity: Decimal
    price: Decimal
    amount: Decimal | None = None
    total: Decimal | None = None
    vat_value: Decimal | None = None
    vat_amount: Decimal | None = None
    vat_calculation_type: str | None = None


class InvoiceOperationGetRequest(RequestModel):
    document_ids: list[int]  # at most one per call (§4)
    limit: int | None = None
    offset: int | None = None


class InvoiceOperationAdd(RequestModel):
    document_id: int
    item_id: int
    quantity: Number
    price: Number
    vat_value: Number | None = None  # None: the item's rate; -1: no VAT
