"""Async client of the REGOS API. Start at `RegosAPI`; see README.md in this package."""

from regos_sdk.api import RegosAPI
from regos_sdk.client import RegosResponse, aclose_shared
from regos_sdk.errors import (
    RegosAPIError,
    RegosAuthError,
    RegosError,
    RegosRateLimited,
    RegosServerError,
    RegosTransportError,
)

__all__ = [
    "RegosAPI",
    "RegosAPIError",
    "RegosAuthError",
    "RegosError",
    "RegosRateLimited",
    "RegosResponse",
    "RegosServerError",
    "RegosTransportError",
    "aclose_shared",
]
