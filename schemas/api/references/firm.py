"""`Firm/Get`: the tenant's own companies (shared/docs/edo-contract.md §4)."""

from __future__ import annotations

from schemas.api.base import RequestModel
from schemas.api.references.partner import Requisites


class Firm(Requisites):
    phones: str | None = None


class FirmGetRequest(RequestModel):
    ids: list[int] | None = None
    limit: int | None = None
    offset: int | None = None
