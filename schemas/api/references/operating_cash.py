"""`OperatingCash/Get`: cash registers and the stock (shop) each belongs to."""

from __future__ import annotations

from schemas.api.base import ReadModel, RequestModel


class OperatingCashGetRequest(RequestModel):
    ids: list[int] | None = None
    stock_ids: list[int] | None = None
    limit: int | None = None
    offset: int | None = None


class Stock(ReadModel):
    id: int
    name: str | None = None


class OperatingCash(ReadModel):
    id: int
    stock: Stock | None = None
    description: str | None = None
    virtual: bool | None = None
