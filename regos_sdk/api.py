"""`RegosAPI`: the one object integration code uses to talk to REGOS.

    async with RegosAPI(cid, settings=settings, request_id=rid) as api:
        cheques = await api.docs.cheque.get_by_uuids([uuid])
        raw = await api.call("DocCheque/Get", {"uuids": [uuid]})

The facade is cheap to build: HTTP and Redis clients are shared per event loop (see
`regos_sdk.client`), so build one per unit of work and let it go.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Any, TypeVar, overload

import httpx2
from pydantic import TypeAdapter
from redis.asyncio import Redis

from regos_sdk.client import RegosResponse, RegosTransport, shared_http, shared_redis
from regos_sdk.common import CommonNamespace
from regos_sdk.crm import CrmNamespace
from regos_sdk.docs import DocsNamespace
from regos_sdk.integrations import IntegrationsNamespace
from regos_sdk.pagination import paginate_raw
from regos_sdk.references import ReferencesNamespace
from regos_sdk.reports import ReportsNamespace
from settings import Settings, get_settings

log = logging.getLogger("regos_sdk.api")

T = TypeVar("T")


@lru_cache(maxsize=512)
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def validate(model: Any, data: Any) -> Any:
    """Validate `data` as `model` (a pydantic model or any type TypeAdapter accepts, e.g. list[M])."""
    return _adapter(model).validate_python(data)


class RegosAPI:
    """REGOS API bound to one connected integration. Use as `async with` (or call directly)."""

    def __init__(
        self,
        connected_integration_id: str,
        *,
        settings: Settings | None = None,
        redis: Redis | None = None,
        http: httpx2.AsyncClient | None = None,
        request_id: str | None = None,
    ) -> None:
        self.connected_integration_id = connected_integration_id
        self.settings = settings or get_settings()
        self.request_id = request_id
        self._redis = redis
        self._http = http
        self._transport: RegosTransport | None = None
        self.docs = DocsNamespace(self)
        self.references = ReferencesNamespace(self)
        self.integrations = IntegrationsNamespace(self)
        self.reports = ReportsNamespace(self)
        self.crm = CrmNamespace(self)
        self.common = CommonNamespace(self)

    async def __aenter__(self) -> RegosAPI:
        self.transport  # noqa: B018 - bind to the running loop's shared clients now
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None  # clients are shared per loop; aclose_shared() closes them at shutdown

    @property
    def transport(self) -> RegosTransport:
        """Built lazily: the shared clients belong to the loop running the first call."""
        if self._transport is None:
            self._transport = RegosTransport(
                self.connected_integration_id,
                settings=self.settings,
                redis=self._redis or shared_redis(self.settings.redis_url),
                http=self._http or shared_http(),
                request_id=self.request_id,
            )
        return self._transport

    @property
    def redis(self) -> Redis:
        return self.transport.redis

    async def call_envelope(self, method: str, body: Any = None, *, idempotent: bool | None = None) -> RegosResponse:
        """The whole success envelope (`result`, `next_offset`, `total`) of one call."""
        return await self.transport.call(method, body, idempotent=idempotent)

    @overload
    async def call(self, method: str, body: Any, model: type[T], *, idempotent: bool | None = None) -> T: ...
    @overload
    async def call(self, method: str, body: Any, model: None = None, *, idempotent: bool | None = None) -> Any: ...
    async def call(self, method: str, body: Any, model: Any = None, *, idempotent: bool | None = None) -> Any:
        """Call any REGOS method; `result` validated as `model` when given (e.g. `list[Cheque]`), raw otherwise."""
        response = await self.transport.call(method, body, idempotent=idempotent)
        return response.result if model is None else validate(model, response.result)

    async def paginate(
        self, method: str, body: Any, model: type[T] | None = None, *, limit: int | None = None
    ) -> AsyncIterator[T]:
        """Every row of a list method across pages, each validated as `model` (raw dicts when None)."""
        async for row in paginate_raw(self.call_envelope, method, body, limit=limit):
            yield row if model is None else validate(model, row)
