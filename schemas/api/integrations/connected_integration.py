"""`ConnectedIntegration/Get`, `ConnectedIntegration/Edit`."""

from __future__ import annotations

from schemas.api.base import ReadModel, RequestModel


class ConnectedIntegrationGetRequest(RequestModel):
    connected_integration_ids: list[str]
    include_name: bool | None = None
    include_schedule: bool | None = None


class ConnectedIntegration(ReadModel):
    """A row of `ConnectedIntegration/Get`. REGOS may leave out any field (the production gateway
    saw rows without `is_active`): absent means unknown, and callers must treat it so."""

    connected_integration_id: str | None = None
    key: str | None = None
    is_active: bool | None = None
    name: str | None = None
    webhooks: list[str] | None = None


class ConnectedIntegrationEditRequest(RequestModel):
    connected_integration_id: str
    is_active: bool | None = None
    name: str | None = None
