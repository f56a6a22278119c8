"""Cash-register sessions (`DocCashSession/*`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from regos_sdk.service import Service
from schemas.api.docs.cash_session import CashSession, CashSessionGetRequest


class CashSessionService(Service):
    GET = "DocCashSession/Get"

    async def get(self, request: CashSessionGetRequest | None = None) -> list[CashSession]:
        """One page of sessions matching `request` (use `iterate` for all pages)."""
        return await self.api.call(self.GET, request or CashSessionGetRequest(), list[CashSession])

    def iterate(self, request: CashSessionGetRequest | None = None) -> AsyncIterator[CashSession]:
        return self.api.paginate(self.GET, request or CashSessionGetRequest(), CashSession)

    async def get_by_uuids(self, uuids: Sequence[str]) -> list[CashSession]:
        if not uuids:
            return []
        return [s async for s in self.iterate(CashSessionGetRequest(uuids=list(uuids)))]
