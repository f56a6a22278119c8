"""Didox partner API client (shared/docs/edo-contract.md §2). Pure HTTP: no caching, no Redis.

Every call carries `Partner-Authorization` (the gateway's partner token) and, after login,
`user-key`. Secrets travel in headers and JSON bodies only, never in URLs or errors.
"""

from __future__ import annotations

from typing import Any

import httpx2

from integrations.edo.http import ProviderRefused, call
from integrations.errors import PermanentError

MAX_PAGE = 100  # GET /v2/documents: limit ≤ 100 (§2.2)


class PasswordRefused(PermanentError):
    """Didox refused the password (or the account is locked): never retried, because a few bad
    tries lock the account for 10 min, then 24 h, then for good (§2.1)."""


class DidoxClient:
    def __init__(self, http: httpx2.AsyncClient, base_url: str, partner_token: str, *, timeout: float) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._partner = partner_token
        self._timeout = timeout

    def _headers(self, user_key: str | None = None) -> dict[str, str]:
        headers = {"Partner-Authorization": self._partner}
        if user_key:
            headers["user-key"] = user_key
        return headers

    async def _call(self, what: str, method: str, path: str, user_key: str | None = None, **kw: Any) -> Any:
        return await call(
            self._http,
            f"didox {what}",
            method,
            self._base + path,
            timeout_seconds=self._timeout,
            secrets=(self._partner, user_key),
            headers=self._headers(user_key),
            **kw,
        )

    async def login(self, tax_id: str, password: str, locale: str) -> str:
        """`POST /v1/auth/{taxId}/password/{locale}` → user token (lives 360 min, §2.1)."""
        try:
            answer = await self._call(
                "login", "POST", f"/v1/auth/{tax_id}/password/{locale}", json={"password": password}
            )
        except ProviderRefused as exc:
            if exc.status in (401, 422, 423, 429):
                raise PasswordRefused(
                    f"didox login for TIN {tax_id} refused ({exc.text}); not retried to avoid locking the "
                    "account: fix DIDOX_PASSWORD in the connected integration's settings"
                ) from None
            raise
        token = answer.get("token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise PermanentError(f"didox login for TIN {tax_id}: answer without token")
        return token

    async def switch_company(self, user_key: str, company_tax_id: str, locale: str) -> str:
        """`POST /v1/auth/company/{companyTaxId}/login/{locale}`: a person's token → the company's."""
        answer = await self._call(
            "company login", "POST", f"/v1/auth/company/{company_tax_id}/login/{locale}", user_key, json={}
        )
        token = answer.get("token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise PermanentError(f"didox company login for TIN {company_tax_id}: answer without token")
        return token

    async def list_documents(self, user_key: str, params: dict[str, Any]) -> dict[str, Any]:
        """`GET /v2/documents` (§2.2) → `{"data": [...], "total": n}`."""
        answer = await self._call("documents list", "GET", "/v2/documents", user_key, params=params)
        return answer if isinstance(answer, dict) else {}

    async def get_document(self, user_key: str, doc_id: str) -> dict[str, Any]:
        """`GET /v1/documents/{id}?owner=0` (§2.3) → `data`."""
        answer = await self._call("document", "GET", f"/v1/documents/{doc_id}", user_key, params={"owner": 0})
        data = answer.get("data") if isinstance(answer, dict) else None
        return data if isinstance(data, dict) else {}

    async def create_invoice(self, user_key: str, body: dict[str, Any], locale: str) -> str:
        """`POST /v1/documents/002/create/{locale}` (§2.4) → the draft's id (`_id`)."""
        answer = await self._call("create invoice", "POST", f"/v1/documents/002/create/{locale}", user_key, json=body)
        draft_id = answer.get("_id") if isinstance(answer, dict) else None
        if not isinstance(draft_id, str) or not draft_id:
            raise PermanentError("didox create invoice: answer without _id")
        return draft_id
