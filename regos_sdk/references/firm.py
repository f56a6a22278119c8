"""The tenant's companies (`Firm/Get`, shared/docs/edo-contract.md §4)."""

from __future__ import annotations

from regos_sdk.service import Service
from schemas.api.references.firm import Firm, FirmGetRequest


class FirmService(Service):
    GET = "Firm/Get"

    async def get_by_id(self, firm_id: int) -> Firm | None:
        found = await self.api.call(self.GET, FirmGetRequest(ids=[firm_id], limit=1), list[Firm] | None) or []
        return found[0] if found else None
