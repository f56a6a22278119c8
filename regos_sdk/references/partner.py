"""Partners (`Partner/Get`, `/Add`, shared/docs/edo-contract.md §4)."""

from __future__ import annotations

from regos_sdk.service import Service
from schemas.api.docs.invoice import NewIdResult
from schemas.api.references.partner import Partner, PartnerAddRequest, PartnerGetRequest


class PartnerService(Service):
    GET = "Partner/Get"
    ADD = "Partner/Add"

    async def get(self, request: PartnerGetRequest) -> list[Partner]:
        return await self.api.call(self.GET, request, list[Partner] | None) or []

    async def get_by_id(self, partner_id: int) -> Partner | None:
        found = await self.get(PartnerGetRequest(ids=[partner_id], limit=1))
        return found[0] if found else None

    async def find_by_inn(self, inn: str) -> Partner | None:
        """The partner with exactly this TIN (never the first search hit of another TIN)."""
        found = await self.get(PartnerGetRequest(search=inn, limit=10))
        return next((p for p in found if p.inn == inn), None)

    async def add(self, request: PartnerAddRequest) -> int:
        return (await self.api.call(self.ADD, request, NewIdResult)).new_id
