"""References area: `api.references.<resource>`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from regos_sdk.references.firm import FirmService
from regos_sdk.references.item import ItemService
from regos_sdk.references.operating_cash import OperatingCashService
from regos_sdk.references.partner import PartnerService
from regos_sdk.service import Namespace

if TYPE_CHECKING:
    from regos_sdk.api import RegosAPI


class ReferencesNamespace(Namespace):
    def __init__(self, api: RegosAPI) -> None:
        super().__init__(api)
        self.operating_cash = OperatingCashService(api)
        self.partner = PartnerService(api)
        self.firm = FirmService(api)
        self.item = ItemService(api)
