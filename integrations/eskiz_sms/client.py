"""Eskiz provider client (https://notify.eskiz.uz/api): login, refresh, send, send-batch, the
dispatch lookup (`get-user-messages-by-dispatch`) and the balance (`user/get-limit`).

Paths and content types: the OpenAPI description of Eskiz's API, public repository
iota-uz/eskiz, `docs/DefaultApi.md` (all under `https://notify.eskiz.uz/api`): send-batch is JSON;
login, send and the lookups are form bodies (documented as multipart/form-data; Eskiz, a Laravel
application, reads url-encoded forms alike, which is what is sent here).

Pure HTTP: no caching, no Redis. The bearer token travels in a header (never in a URL, so
httpx2's INFO request log shows nothing secret); form and JSON bodies are never logged.
Errors are `integrations.sms.http` errors; `ProviderHTTPError.status == 401` means the token
expired (or, on login, the credentials are wrong).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx2

from integrations.sms import http as sms_http

MAX_BATCH = 100
DEFAULT_SENDER = "4546"


@dataclass(frozen=True)
class BatchItem:
    user_sms_id: str
    phone: str  # digits only, 998XXXXXXXXX
    text: str


class EskizClient:
    def __init__(self, http: httpx2.AsyncClient, base_url: str, *, timeout: float) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._timeout = timeout

    async def _call(
        self, what: str, method: str, path: str, *, secrets: Sequence[str | None] = (), effect: bool = False, **kw: Any
    ) -> Any:
        response = await sms_http.call(
            self._http,
            f"eskiz {what}",
            method,
            self._base + path,
            timeout_seconds=self._timeout,
            secrets=secrets,
            effect=effect,
            **kw,
        )
        try:
            return response.json()
        except ValueError:
            return None

    async def login(self, email: str, password: str) -> str:
        """`POST /auth/login` → bearer token. A login has no side effect: callers may retry any failure."""
        answer = await self._call(
            "login", "POST", "/auth/login", secrets=(email, password), data={"email": email, "password": password}
        )
        token = (answer or {}).get("data", {}).get("token") if isinstance(answer, dict) else None
        if not token or not isinstance(token, str):
            raise sms_http.ProviderHTTPError("eskiz login", 502, "answer without data.token")
        return token

    async def refresh(self, token: str) -> str:
        """`PATCH /auth/refresh` → a new token for a still-valid one."""
        answer = await self._call(
            "refresh", "PATCH", "/auth/refresh", secrets=(token,), headers={"Authorization": f"Bearer {token}"}
        )
        new = (answer or {}).get("data", {}).get("token") if isinstance(answer, dict) else None
        if not new or not isinstance(new, str):
            raise sms_http.ProviderHTTPError("eskiz refresh", 502, "answer without data.token")
        return new

    async def send_batch(
        self,
        token: str,
        items: Sequence[BatchItem],
        *,
        sender: str,
        dispatch_id: int,
        callback_url: str | None,
    ) -> dict[str, Any]:
        """`POST /message/sms/send-batch` (≤ 100 items) → `{"id", "message", "status": [...]}`."""
        body: dict[str, Any] = {
            "messages": [{"user_sms_id": i.user_sms_id, "to": int(i.phone), "text": i.text} for i in items],
            "from": sender,
            "dispatch_id": dispatch_id,
        }
        if callback_url:
            body["callback_url"] = callback_url
        answer = await self._call(
            "send-batch",
            "POST",
            "/message/sms/send-batch",
            secrets=(token,),
            effect=True,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
        return answer if isinstance(answer, dict) else {}

    async def send(self, token: str, phone: str, text: str, *, sender: str, callback_url: str | None) -> dict[str, Any]:
        """`POST /message/sms/send` (form) → `{"id", "message", "status"}`. Its delivery report
        carries no user_sms_id, so the integration uses send-batch even for one message."""
        form = {"mobile_phone": phone, "message": text, "from": sender}
        if callback_url:
            form["callback_url"] = callback_url
        answer = await self._call(
            "send",
            "POST",
            "/message/sms/send",
            secrets=(token,),
            effect=True,
            data=form,
            headers={"Authorization": f"Bearer {token}"},
        )
        return answer if isinstance(answer, dict) else {}

    async def messages_by_dispatch(self, token: str, dispatch_id: int, *, max_pages: int = 50) -> list[dict[str, Any]]:
        """`POST /message/sms/get-user-messages-by-dispatch` (form `dispatch_id`, `page`): every message
        Eskiz holds for one dispatch, all pages (`data.result`, paged by `data.current_page` /
        `data.last_page`; iota-uz/eskiz `docs/UserMessagesResponse.md`, `PaginationData.md`,
        `MessageItem.md`). No side effect: any failure may be retried."""
        rows: list[dict[str, Any]] = []
        page = 1
        while page <= max_pages:
            answer = await self._call(
                "get-user-messages-by-dispatch",
                "POST",
                "/message/sms/get-user-messages-by-dispatch",
                secrets=(token,),
                data={"dispatch_id": str(dispatch_id), "page": str(page)},
                headers={"Authorization": f"Bearer {token}"},
            )
            data = answer.get("data") if isinstance(answer, dict) else None
            if not isinstance(data, dict):
                raise sms_http.ProviderHTTPError("eskiz get-user-messages-by-dispatch", 502, "answer without data")
            result = data.get("result") or []
            rows += [r for r in result if isinstance(r, dict)] if isinstance(result, list) else []
            if _int(data.get("current_page"), page) >= _int(data.get("last_page"), page):
                return rows
            page += 1
        raise sms_http.ProviderHTTPError(
            "eskiz get-user-messages-by-dispatch", 502, f"more than {max_pages} pages for one dispatch"
        )

    async def balance(self, token: str) -> float | None:
        """`GET /user/get-limit` → `{"data": {"balance": N}, "status": "success"}` (iota-uz/eskiz
        `docs/UserLimitResponse.md`, `UserBalance.md`: a number): the balance, None if not given."""
        answer = await self._call(
            "get-limit", "GET", "/user/get-limit", secrets=(token,), headers={"Authorization": f"Bearer {token}"}
        )
        data = answer.get("data") if isinstance(answer, dict) else None
        value = data.get("balance") if isinstance(data, dict) else None
        try:
            return float(value) if value is not None else None
        except (TypeError, ValueError):
            return None


def _int(value: Any, default: Any) -> Any:
    """Eskiz numbers may come as strings: parse leniently."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
