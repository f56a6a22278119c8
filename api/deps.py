"""Dependencies of the routes, as `Annotated` aliases.

Process-wide objects (settings, the Redis client, the publisher) live on `app.state.ingress`,
created by the app factory, so tests can build an app around their own `Settings`. The queueing
routes take them as one `IngressDep`: they answer every REGOS call, and each dependency FastAPI
resolves is per-request work.
The dependencies are `async def` although they do not await: FastAPI runs a plain `def`
dependency in the thread pool, which cost ~16% of the ingress's CPU per request.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from redis.asyncio import Redis

from api.errors import GatewayError
from jobs.publish import Publisher
from settings import Settings


@dataclass(frozen=True)
class Ingress:
    settings: Settings
    redis: Redis  # one pooled client per process
    publisher: Publisher


async def get_ingress(request: Request) -> Ingress:
    return request.app.state.ingress


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.ingress.settings


async def get_redis(request: Request) -> Redis:
    return request.app.state.ingress.redis


async def get_publisher(request: Request) -> Publisher:
    return request.app.state.ingress.publisher


IngressDep = Annotated[Ingress, Depends(get_ingress)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
RedisDep = Annotated[Redis, Depends(get_redis)]
PublisherDep = Annotated[Publisher, Depends(get_publisher)]


async def require_operator(settings: SettingsDep, authorization: Annotated[str | None, Header()] = None) -> None:
    """Bearer OPERATOR_TOKEN. Without a configured token these endpoints do not exist (404)."""
    expected = settings.operator_token.get_secret_value()
    if not expected:
        raise GatewayError(404, "Not Found")
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise GatewayError(401, "operator endpoints need 'Authorization: Bearer <OPERATOR_TOKEN>'")


OperatorDep = Annotated[None, Depends(require_operator)]
