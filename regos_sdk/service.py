"""Base of every `*Service`: a thin, typed wrapper around the facade's shared `call()`.

A service holds method-name constants and one method per REGOS method. It never talks HTTP.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from regos_sdk.api import RegosAPI


class Service:
    def __init__(self, api: RegosAPI) -> None:
        self.api = api

    @property
    def cid(self) -> str:
        return self.api.connected_integration_id


class Namespace:
    """Groups the services of one REGOS area (`api.docs`, `api.references`, ...)."""

    def __init__(self, api: RegosAPI) -> None:
        self.api = api
