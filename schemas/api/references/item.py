"""`Item/Import`, `Item/Match`: products by ICPS and barcode (shared/docs/edo-contract.md §4)."""

from __future__ import annotations

from typing import Literal

from schemas.api.base import ReadModel, RequestModel

Comparation = Literal["ICPSBarcode", "ICPS", "Barcode"]
MAX_ROWS = 250  # per call, docs.regos.uz


class ItemImportRow(RequestModel):
    index: int
    name: str
    icps: str | None = None
    icpsbarcode: str | None = None  # "<icps>|<barcode>"
    barcodes: str | None = None
    package_code: str | None = None


class ItemImportRequest(RequestModel):
    comparation_value: Comparation
    barcode_separator: str = ","
    group_id: int = 0  # 0: the server's default group, unit and VAT
    unit_id: int = 0
    vat_value_id: int = 0
    data: list[ItemImportRow]


class ItemImportResult(ReadModel):
    success: bool = False
    index: int
    item_id: int | None = None


class ItemMatchRow(RequestModel):
    index: int
    value: str


class ItemMatchRequest(RequestModel):
    type: Comparation
    data: list[ItemMatchRow]


class ItemMatchResult(ReadModel):
    index: int
    item_id: int | None = None
    value: str | None = None
