"""`DocCashSession/Get`: cash-register sessions (shifts)."""

from __future__ import annotations

from decimal import Decimal

from schemas.api.base import Code, ReadModel, RequestModel


class CashSessionGetRequest(RequestModel):
    uuids: list[str] | None = None
    operating_cash_ids: list[int] | None = None
    limit: int | None = None
    offset: int | None = None


class CashSession(ReadModel):
    uuid: str
    code: Code
    operating_cash_id: int
    start_date: int  # unix seconds
    start_amount: Decimal
    close_date: int | None = None
    close_amount: Decimal | None = None
    closed: bool = False
