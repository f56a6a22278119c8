"""Dependencies of the routes, as `Annotated` aliases.

Process-wide objects (settings, the Redis client, the publisher) live on `app.state`,
created by the app factory, so tests can build an app around their own `Settings`.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request
from redis.asyncio import Redis

from api.errors import GatewayError
from settings import Settings
from workers.publish import Publisher


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_redis(request: Request) -> Redis:
    return request.app.state.redis


def get_publisher(request: Request) -> Publisher:
    return request.app.state.publisher


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
RedisDep = Annotated[Redis, Depends(get_redis)]
PublisherDep = Annotated[Publisher, Depends(get_publisher)]


def require_operator(settings: SettingsDep, authorization: Annotated[str | None, Header()] = None) -> None:
    """Bearer OPERATOR_TOKEN. Without a configured token these endpoints do not exist (404)."""
    expected = settings.operator_token.get_secret_value()
    if not expected:
        raise GatewayError(404, "Not Found")
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise GatewayError(401, "operator endpoints need 'Authorization: Bearer <OPERATOR_TOKEN>'")


OperatorDep = Annotated[None, Depends(require_operator)]
