"""`ConnectedIntegrationSetting/Get`, `ConnectedIntegrationSetting/Edit`. Values are secrets."""

from __future__ import annotations

from schemas.api.base import ReadModel, RequestModel


class SettingGetRequest(RequestModel):
    connected_integration_id: str
    firm_id: int | None = None


class Setting(ReadModel):
    key: str
    value: str | None = None
    last_update: int | None = None


class SettingEdit(RequestModel):
    """One item of the JSON array `ConnectedIntegrationSetting/Edit` takes."""

    key: str
    value: str
    connected_integration_id: str
    firm_id: int | None = None
