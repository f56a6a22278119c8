"""`DocCheque/Get`: retail cheques."""

from __future__ import annotations

from decimal import Decimal

from schemas.api.base import Code, ReadModel, RequestModel


class ChequeGetRequest(RequestModel):
    uuids: list[str] | None = None
    session_uuid: str | None = None
    start_date: int | None = None  # unix seconds
    end_date: int | None = None
    limit: int | None = None
    offset: int | None = None


class Cheque(ReadModel):
    uuid: str
    date: int  # unix seconds
    code: Code
    status: int | str | None = None
    session: str | None = None  # cash-session uuid
    is_return: bool = False
    amount: Decimal
    cashier: str | dict | None = None
    seller: str | dict | None = None
    last_update: int | None = None
