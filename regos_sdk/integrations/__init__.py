"""Integrations area: `api.integrations.<resource>`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from regos_sdk.integrations.connected_integration import ConnectedIntegrationService
from regos_sdk.integrations.connected_integration_setting import ConnectedIntegrationSettingService
from regos_sdk.service import Namespace

if TYPE_CHECKING:
    from regos_sdk.api import RegosAPI


class IntegrationsNamespace(Namespace):
    def __init__(self, api: RegosAPI) -> None:
        super().__init__(api)
        self.connected_integration = ConnectedIntegrationService(api)
        self.connected_integration_setting = ConnectedIntegrationSettingService(api)
