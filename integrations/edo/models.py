"""What the EDO flows exchange with a provider adapter, independent of Didox or Faktura.uz."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel


class ProviderRow(BaseModel):
    """One row of a provider document; `price` is the unit price excluding VAT."""

    index: int
    name: str
    icps: str | None = None
    barcode: str | None = None
    package_code: str | None = None
    package_name: str | None = None
    quantity: Decimal
    price: Decimal
    vat_rate: Decimal | None = None
    origin: int = -1  # REGOS codes: -1 unset, 0 resale, 1 own production, 2 service


class ProviderDocument(BaseModel):
    external_id: str
    roaming_id: str | None = None
    number: str
    date: int  # unix seconds
    contract_number: str | None = None
    contract_date: int | None = None
    partner_inn: str
    partner_name: str
    amount: Decimal | None = None
    rows: list[ProviderRow]


class DocumentListItem(BaseModel):
    """One row of `GetDocuments` in REGOS's DocInvoiceFromRoaming shape (docs.regos.uz /ru/api/edo)."""

    id: str
    roaming_id: str | None = None
    name: str
    partner_name: str | None = None
    partner_inn: str | None = None
    contract: str | None = None
    firm: str | None = None
    date: str | None = None  # "DD.MM.YYYY HH:MM:SS" as the docs show
    create_date: str | None = None
    update_date: str | None = None
    amount: Decimal | None = None


class DocumentPage(BaseModel):
    rows: list[DocumentListItem]
    total: int
