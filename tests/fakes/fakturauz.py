"""A strict fake of Faktura.uz (shared/docs/edo-contract.md §3; api.faktura.uz/help [FK]).

One server plays both hosts: `POST /token` (account.faktura.uz/token) and `/Api/...` (api.faktura.uz/Api).
- `POST /token`, form-encoded and labelled so, `grant_type=password&username&password&client_id&
  client_secret` (§3.1) → `{"access_token", "token_type": "bearer", "expires_in": 604799, ".issued",
  ".expires"}` ([FK], [FK3] 7 days). Wrong credentials → 400 `{"error": "invalid_grant"}` (RFC 6749 §5.2).
- Every `/Api` call needs `Authorization: bearer <token>` (§3.1), else 401.
- `GET /Api/Document/GetDocuments?companyInn&isInbox&types&statuses&limit&skip` (§3.2): the row shape
  upstream reads (`uniqueId`, `roamingUid`, `title`, `contractor{inn,name}`, ...); the envelope is
  undocumented, so this fake answers `{"data": [...], "total": n}`, one of those upstream accepts.
- `POST /Api/Document/GetDocumentsContent?companyInn` JSON `{"DocumentUniqueIds": [...]}` (§3.3) →
  `[{"UniqueId", "RoamingUid", "Content": "<JSON string>"}]`; unknown ids are absent.
- `POST /Api/Document/ImportDocumentRegister?companyInn` JSON `{"invoices": [...]}` (§3.4) →
  `{"ErrorCount": 0, "SuccessItems": [{"UniqueId"}]}`, or `ErrorCount` > 0 with `ErrorItems`
  `[{"ResultCode", "Message"}]` ([FK3]) when an invoice lacks `id`, `head` or `document.items`.
Any other path or method → 404.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.fakes.base import FakeServer, Recorded, Reply

FORM = "application/x-www-form-urlencoded"


def _media(request: Recorded) -> str:
    return (request.headers.get("content-type") or "").split(";")[0].strip().lower()


class FakeFaktura(FakeServer):
    def __init__(self, latency: float = 0.0, port: int = 0) -> None:
        super().__init__(latency=latency, port=port)
        self.accounts: dict[str, tuple[str, str, str]] = {}  # login → (password, client_id, client_secret)
        self.tokens: dict[str, str] = {}  # access token → login
        self.documents: dict[str, dict[str, Any]] = {}  # uniqueId → {"inn", "row", "content"}
        self.registered: list[dict[str, Any]] = []  # {"inn", "invoice", "unique_id"}
        self.token_requests = 0

    def add_account(self, login: str, password: str, client_id: str, client_secret: str) -> None:
        with self.lock:
            self.accounts[login] = (password, client_id, client_secret)

    def add_incoming(self, company_inn: str, owner_inn: str, owner_name: str, services: list[dict[str, Any]]) -> str:
        with self.lock:
            unique = uuid.uuid4().hex
            content = {
                "invoiceNumber": "F-7",
                "invoiceDate": "2026-08-04T00:00:00",
                "invoiceContractNumber": "K-1",
                "invoiceContractDate": "2026-03-26T00:00:00",
                "ownerInn": owner_inn,
                "ownerName": owner_name,
                "contractorInn": company_inn,
                "contractorName": "BETA",
                "invoiceServices": services,
            }
            row = {
                "uniqueId": unique,
                "roamingUid": f"r-{unique[:8]}",
                "title": "F-7",
                "contract": "K-1",
                "createdDateTime": "2026-08-04T09:15:48",
                "updatedDateTime": "2026-08-04T09:15:59",
                "totalPrice": 1120.0,
                "contractor": {"inn": owner_inn, "name": owner_name},
                "contractorMember": {"inn": company_inn, "name": "BETA"},
            }
            self.documents[unique] = {"inn": company_inn, "row": row, "content": content}
            return unique

    def registered_for(self, company_inn: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.registered if r["inn"] == company_inn]

    def handle(self, request: Recorded) -> Reply:
        if request.path == "/token" and request.method == "POST":
            return self._token(request)
        auth = request.headers.get("authorization", "")
        kind, _, token = auth.partition(" ")
        with self.lock:
            login = self.tokens.get(token) if kind.lower() == "bearer" else None
        if login is None:
            return Reply(401, {"Message": "Authorization has been denied for this request."})
        query = {k: v[-1] for k, v in request.query.items()}
        route = (request.method, request.path)
        if route == ("GET", "/Api/Document/GetDocuments"):
            return self._list(query)
        if route == ("POST", "/Api/Document/GetDocumentsContent"):
            return self._contents(request, query)
        if route == ("POST", "/Api/Document/ImportDocumentRegister"):
            return self._register(request, query)
        return Reply(404, {"Message": "No HTTP resource was found that matches the request URI."})

    def _token(self, request: Recorded) -> Reply:
        with self.lock:
            self.token_requests += 1
        if _media(request) != FORM:
            return Reply(400, {"error": "invalid_request"})
        form = request.form()
        if form.get("grant_type") != "password":
            return Reply(400, {"error": "unsupported_grant_type"})
        with self.lock:
            account = self.accounts.get(form.get("username", ""))
            expected = (form.get("password"), form.get("client_id"), form.get("client_secret"))
            if account is None or account != expected:
                return Reply(
                    400, {"error": "invalid_grant", "error_description": "The user name or password is incorrect."}
                )
            token = uuid.uuid4().hex
            self.tokens[token] = form["username"]
        return Reply(
            200,
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": 604799,
                ".issued": "Tue, 04 Aug 2026 10:00:00 GMT",
                ".expires": "Tue, 11 Aug 2026 10:00:00 GMT",
            },
        )

    def _list(self, query: dict[str, str]) -> Reply:
        if "companyInn" not in query:
            return Reply(400, {"Message": "companyInn is required"})
        limit, skip = int(query.get("limit") or 500), int(query.get("skip") or 0)
        with self.lock:
            rows = [d["row"] for d in self.documents.values() if d["inn"] == query["companyInn"]]
        return Reply(200, {"data": rows[skip : skip + limit], "total": len(rows)})

    def _contents(self, request: Recorded, query: dict[str, str]) -> Reply:
        if _media(request) != "application/json" or "companyInn" not in query:
            return Reply(415 if "companyInn" in query else 400, {"Message": "bad request"})
        ids = (request.json() or {}).get("DocumentUniqueIds")
        if not isinstance(ids, list):
            return Reply(400, {"Message": "DocumentUniqueIds is required"})
        with self.lock:
            found = [(u, self.documents[u]) for u in ids if u in self.documents]
        rows = [
            {"UniqueId": u, "RoamingUid": d["row"]["roamingUid"], "Content": json.dumps(d["content"])}
            for u, d in found
            if d["inn"] == query["companyInn"]
        ]
        return Reply(200, rows)

    def _register(self, request: Recorded, query: dict[str, str]) -> Reply:
        if _media(request) != "application/json" or "companyInn" not in query:
            return Reply(400, {"Message": "bad request"})
        invoices = (request.json() or {}).get("invoices")
        if not isinstance(invoices, list) or not invoices:
            return Reply(400, {"Message": "invoices is required"})
        errors, success = [], []
        for invoice in invoices:
            if not invoice.get("id") or not invoice.get("head") or not (invoice.get("document") or {}).get("items"):
                errors.append({"ResultCode": 1, "Message": f"invoice {invoice.get('id')}: id, head and items required"})
                continue
            unique = uuid.uuid4().hex
            with self.lock:
                self.registered.append({"inn": query["companyInn"], "invoice": invoice, "unique_id": unique})
            success.append({"UniqueId": unique, "ClientId": invoice["id"]})
        return Reply(
            200,
            {"ErrorCount": len(errors), "ErrorItems": errors, "SuccessCount": len(success), "SuccessItems": success},
        )
