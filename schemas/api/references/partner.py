"""`Partner/Get`, `Partner/Add` (shared/docs/edo-contract.md §4)."""

from __future__ import annotations

from typing import Literal

from schemas.api.base import Code, ReadModel, RequestModel

LegalStatus = Literal["Legal", "Natural"]


class Requisites(ReadModel):
    """Fields partners and firms share, as invoices need them."""

    id: int
    name: str | None = None
    fullname: str | None = None
    inn: Code | None = None
    vat_index: Code | None = None
    mfo: Code | None = None
    rs: Code | None = None
    bank_name: str | None = None
    address: str | None = None
    boss_name: str | None = None


class Partner(Requisites):
    legal_status: str | None = None


class PartnerGetRequest(RequestModel):
    ids: list[int] | None = None
    legal_status: LegalStatus | None = None
    search: str | None = None
    limit: int | None = None
    offset: int | None = None


class PartnerAddRequest(RequestModel):
    group_id: int
    legal_status: LegalStatus
    name: str
    fullname: str | None = None
    inn: str | None = None
