"""Walking list methods page by page.

Use `RegosAPI.paginate()` (or a service's `iterate()`) when you need every row of a list method;
use a plain `call()` when one page is enough. REGOS pages with `limit`/`offset` and sends
`next_offset` while more rows remain.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from regos_sdk.client import RegosResponse

DEFAULT_LIMIT = 100

RawCall = Callable[[str, Any], Awaitable[RegosResponse]]


async def paginate_raw(call: RawCall, method: str, body: Any, *, limit: int | None = None) -> AsyncIterator[Any]:
    """Yield every row of `method`, following `next_offset` until it is absent."""
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json", exclude_none=True)
    page: dict[str, Any] = dict(body or {})
    page["limit"] = limit or page.get("limit") or DEFAULT_LIMIT
    page.setdefault("offset", 0)
    while True:
        response = await call(method, page)
        rows = response.result or []
        for row in rows if isinstance(rows, list) else [rows]:
            yield row
        next_offset = response.next_offset
        # A server that repeats an offset would otherwise loop forever.
        if next_offset is None or next_offset <= page["offset"] or not rows:
            return
        page = {**page, "offset": next_offset}
