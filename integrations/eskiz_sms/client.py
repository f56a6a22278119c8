"""Eskiz provider client (https://notify.eskiz.uz/api): login, refresh, send, send-batch.

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

    async def _call(self, what: str, method: str, path: str, *, secrets: Sequence[str | None] = (), **kw: Any) -> Any:
        response = await sms_http.call(
            self._http, f"eskiz {what}", method, self._base + path, timeout_seconds=self._timeout, secrets=secrets, **kw
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
            data=form,
            headers={"Authorization": f"Bearer {token}"},
        )
        return answer if isinstance(answer, dict) else {}
