"""Contracts (`DocContract/GetShort`, `/Add`, shared/docs/edo-contract.md §4)."""

from __future__ import annotations

from regos_sdk.service import Service
from schemas.api.docs.contract import ContractAddRequest, ContractGetShortRequest, ContractShort
from schemas.api.docs.invoice import NewIdResult


class DocContractService(Service):
    GET_SHORT = "DocContract/GetShort"
    ADD = "DocContract/Add"

    async def get_short(self, request: ContractGetShortRequest) -> list[ContractShort]:
        # `search` is ignored by this method (docs.regos.uz), so callers filter the rows themselves.
        return [row async for row in self.api.paginate(self.GET_SHORT, request, ContractShort)]

    async def add(self, request: ContractAddRequest) -> int:
        return (await self.api.call(self.ADD, request, NewIdResult)).new_id
