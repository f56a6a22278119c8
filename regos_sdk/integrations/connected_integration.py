"""Connected integrations (`ConnectedIntegration/*`)."""

from __future__ import annotations

from collections.abc import Sequence

from regos_sdk.service import Service
from schemas.api.base import EditResult
from schemas.api.integrations.connected_integration import (
    ConnectedIntegration,
    ConnectedIntegrationEditRequest,
    ConnectedIntegrationGetRequest,
)


class ConnectedIntegrationService(Service):
    GET = "ConnectedIntegration/Get"
    EDIT = "ConnectedIntegration/Edit"

    async def get(
        self, ids: Sequence[str] | None = None, *, include_name: bool = False, include_schedule: bool = False
    ) -> list[ConnectedIntegration]:
        """The connected integrations with these ids (default: the one this facade is bound to)."""
        request = ConnectedIntegrationGetRequest(
            connected_integration_ids=list(ids) if ids is not None else [self.cid],
            include_name=include_name or None,
            include_schedule=include_schedule or None,
        )
        return await self.api.call(self.GET, request, list[ConnectedIntegration])

    async def edit(self, request: ConnectedIntegrationEditRequest) -> EditResult:
        return await self.api.call(self.EDIT, request, EditResult, idempotent=True)
