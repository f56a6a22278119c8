"""`DocContract/GetShort` and `/Add`: contracts with partners (shared/docs/edo-contract.md §4)."""

from __future__ import annotations

from typing import Literal

from schemas.api.base import Code, ReadModel, RequestModel
from schemas.api.docs.invoice import Number

Direction = Literal["Income", "Outcome"]


class ContractShort(ReadModel):
    id: int
    code: Code | None = None
    name: str | None = None
    date: int | None = None
    partner_id: int | None = None
    firm_id: int | None = None
    direction: str | None = None


class ContractGetShortRequest(RequestModel):
    direction: Direction | None = None
    firm_ids: list[int] | None = None
    partner_ids: list[int] | None = None
    limit: int | None = None
    offset: int | None = None


class ContractAddRequest(RequestModel):
    """Every field is required per docs.regos.uz (§4)."""

    code: str
    name: str
    details: str
    date: int
    start_date: int
    end_date: int
    direction: Direction
    firm_id: int
    partner_id: int
    amount: Number
    currency_id: int
    active: bool = True
