"""Faktura.uz API client (shared/docs/edo-contract.md §3). Pure HTTP: no caching, no Redis.

No source shows Faktura's list, content or error shapes (§3), so answers are read defensively:
rows under `result|data|items|documents` or a bare array, totals under `total|totalCount|...`.
"""

from __future__ import annotations

from typing import Any

import httpx2

from integrations.edo.http import ProviderRefused, call
from integrations.errors import PermanentError

ROW_KEYS = ("result", "data", "items", "documents")
TOTAL_KEYS = ("total", "totalCount", "recordsTotal", "count")


class CredentialsRefused(PermanentError):
    """The token endpoint refused the login, password or client credentials: not retried."""


def rows_of(answer: Any) -> list[dict[str, Any]]:
    if isinstance(answer, list):
        return [r for r in answer if isinstance(r, dict)]
    if isinstance(answer, dict):
        for key in ROW_KEYS:
            if isinstance(answer.get(key), list):
                return [r for r in answer[key] if isinstance(r, dict)]
    return []


def total_of(answer: Any, fallback: int) -> int:
    if isinstance(answer, dict):
        for key in TOTAL_KEYS:
            if isinstance(answer.get(key), int):
                return answer[key]
    return fallback


class FakturaClient:
    def __init__(self, http: httpx2.AsyncClient, api_url: str, token_url: str, *, timeout: float) -> None:
        self._http = http
        self._api = api_url.rstrip("/")
        self._token_url = token_url
        self._timeout = timeout

    async def token(self, login: str, password: str, client_id: str, client_secret: str) -> tuple[str, int]:
        """OAuth password grant (§3.1) → (`<token_type> <access_token>`, expires_in seconds)."""
        form = {
            "grant_type": "password",
            "username": login,
            "password": password,
            "client_id": client_id,
            "client_secret": client_secret,
        }
        try:
            answer = await call(
                self._http,
                "faktura token",
                "POST",
                self._token_url,
                timeout_seconds=self._timeout,
                secrets=(password, client_secret),
                data=form,
            )
        except ProviderRefused as exc:
            raise CredentialsRefused(
                f"faktura token for {login} refused ({exc.text}): fix FAKTURA_UZ_LOGIN / FAKTURA_UZ_PASSWORD / "
                "FAKTURA_UZ_CLIENT_ID / FAKTURA_UZ_PRIVATE_KEY in the connected integration's settings"
            ) from None
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise PermanentError("faktura token: answer without access_token")
        kind = str(answer.get("token_type") or "bearer")
        return f"{kind} {token}", int(answer.get("expires_in") or 3600)

    async def _call(self, what: str, method: str, path: str, auth: str, **kw: Any) -> Any:
        return await call(
            self._http,
            f"faktura {what}",
            method,
            self._api + path,
            timeout_seconds=self._timeout,
            secrets=(auth,),
            headers={"Authorization": auth},
            **kw,
        )

    async def documents(self, auth: str, params: dict[str, Any]) -> Any:
        """`GET /Document/GetDocuments` (§3.2)."""
        return await self._call("documents", "GET", "/Document/GetDocuments", auth, params=params)

    async def contents(self, auth: str, company_inn: str, unique_ids: list[str]) -> list[dict[str, Any]]:
        """`POST /Document/GetDocumentsContent?companyInn=` (§3.3) → rows with `Content` as a JSON string."""
        answer = await self._call(
            "documents content",
            "POST",
            "/Document/GetDocumentsContent",
            auth,
            params={"companyInn": company_inn},
            json={"DocumentUniqueIds": unique_ids},
        )
        return rows_of(answer)

    async def register(self, auth: str, company_inn: str, body: dict[str, Any]) -> str:
        """`POST /Document/ImportDocumentRegister?companyInn=` (§3.4) → the new document's UniqueId."""
        answer = await self._call(
            "import register",
            "POST",
            "/Document/ImportDocumentRegister",
            auth,
            params={"companyInn": company_inn},
            json=body,
        )
        if not isinstance(answer, dict):
            raise PermanentError("faktura import register: answer is not an object")
        if int(answer.get("ErrorCount") or 0) > 0:
            items = answer.get("ErrorItems") or []
            text = "; ".join(str(i.get("Message") if isinstance(i, dict) else i) for i in items)[:500]
            raise PermanentError(f"faktura import register refused: {text or 'no message'}")
        success = answer.get("SuccessItems") or []
        unique = success[0].get("UniqueId") if success and isinstance(success[0], dict) else None
        if not isinstance(unique, str) or not unique:
            raise PermanentError("faktura import register: answer without SuccessItems[0].UniqueId")
        return unique
