"""Cash registers (`OperatingCash/*`)."""

from __future__ import annotations

from collections.abc import Sequence

from regos_sdk.service import Service
from schemas.api.references.operating_cash import OperatingCash, OperatingCashGetRequest


class OperatingCashService(Service):
    GET = "OperatingCash/Get"

    async def get(
        self, *, ids: Sequence[int] | None = None, stock_ids: Sequence[int] | None = None
    ) -> list[OperatingCash]:
        """Every cash register matching the filters (all of them when both are None), across pages."""
        request = OperatingCashGetRequest(
            ids=list(ids) if ids is not None else None, stock_ids=list(stock_ids) if stock_ids is not None else None
        )
        return [o async for o in self.api.paginate(self.GET, request, OperatingCash)]
