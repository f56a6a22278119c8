"""Retail cheques (`DocCheque/*`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from regos_sdk.service import Service
from schemas.api.docs.cheque import Cheque, ChequeGetRequest


class ChequeService(Service):
    GET = "DocCheque/Get"

    async def get(self, request: ChequeGetRequest | None = None) -> list[Cheque]:
        """One page of cheques matching `request` (use `iterate` for all pages)."""
        return await self.api.call(self.GET, request or ChequeGetRequest(), list[Cheque])

    def iterate(self, request: ChequeGetRequest | None = None) -> AsyncIterator[Cheque]:
        """Every cheque matching `request`, across pages."""
        return self.api.paginate(self.GET, request or ChequeGetRequest(), Cheque)

    async def get_by_uuids(self, uuids: Sequence[str]) -> list[Cheque]:
        """The cheques with these uuids (missing ones are simply absent)."""
        if not uuids:
            return []
        return [c async for c in self.iterate(ChequeGetRequest(uuids=list(uuids)))]
