"""A strict fake of the Didox partner API (shared/docs/edo-contract.md §2, from api-docs.didox.uz).

- Every call needs `Partner-Authorization: <partner token>`; calls after login also `user-key`
  (§2.1). A wrong partner token or user key → 401 `Unauthorized. Invalid user key` (§2.5).
- `POST /v1/auth/{taxId}/password/{ru|uz}` JSON `{"password"}` → `{"token", "taxId", ...}`; unknown
  TIN → 422 `User not registered`, wrong password → 422 `Incorrect login`; 3 bad tries → 423
  `{"message"}` (blocked), as the lockout in §2.1 ("3 bad tries/min → 10 min block").
- `POST /v1/auth/company/{companyTaxId}/login/{locale}` with a person's `user-key` → `{"token",
  "permissions"}`; unknown company → 422 `Company not registered` (§2.1).
- `GET /v2/documents?page&limit&owner&doctype...`: `page` and `limit` required, limit ≤ 100 →
  422 otherwise (§2.2); answers `{"data": [...], "total", "next_page_url"}`.
- `GET /v1/documents/{32 hex}?owner=0` → `{"data": {"json": {...}, "document": {...}}}`; unknown →
  404 `{"data": {"status": "error", "message"}}` (§2.3, §2.5).
- `POST /v1/documents/002/create/{locale}` JSON → a draft `{"pending_document": {"document_json"},
  "_id", "created_date"}` (§2.4: the id is `_id`); required fields missing → 422 `{"<field>": [...]}`.
Any other path or method → 404. JSON bodies must be labelled `application/json`.
"""

from __future__ import annotations

import itertools
import re
import uuid
from typing import Any

from tests.fakes.base import FakeServer, Recorded, Reply

LOGIN = re.compile(r"/v1/auth/(?P<tin>\d{9,14})/password/(?P<locale>ru|uz)")
COMPANY = re.compile(r"/v1/auth/company/(?P<tin>\d{9})/login/(?P<locale>ru|uz)")
DOCUMENT = re.compile(r"/v1/documents/(?P<id>[0-9A-Fa-f]{32})")
CREATE = re.compile(r"/v1/documents/002/create/(?P<locale>ru|uz)")
UNAUTHORIZED = Reply(401, {"success": False, "error": "Unauthorized. Invalid user key"})
# §2.4 [DX]: required parts of a draft and of each product row.
DRAFT_FIELDS = ("Version", "FacturaType", "FacturaDoc", "ContractDoc", "SellerTin", "BuyerTin", "Seller", "Buyer")
PRODUCT_FIELDS = ("OrdNo", "Name", "CatalogCode", "CatalogName", "PackageCode", "PackageName", "Count", "Summa")


class FakeDidox(FakeServer):
    def __init__(self, latency: float = 0.0, port: int = 0, *, partner_token: str = "didox-partner-token") -> None:
        super().__init__(latency=latency, port=port)
        self.partner_token = partner_token
        self.accounts: dict[str, str] = {}  # TIN → password
        self.bad_tries: dict[str, int] = {}
        self.tokens: dict[str, str] = {}  # user key → TIN it acts for
        self.documents: dict[str, dict[str, Any]] = {}  # doc_id → {"company", "row", "json", "document"}
        self.drafts: dict[str, dict[str, Any]] = {}  # _id → {"company", "body"}
        self.logins = 0
        self._seq = itertools.count(1)

    # --- seeding -------------------------------------------------------------------------
    def add_account(self, tin: str, password: str) -> None:
        with self.lock:
            self.accounts[tin] = password
            self.bad_tries.pop(tin, None)

    def add_incoming(
        self, company_tin: str, seller_tin: str, seller_name: str, products: list[dict[str, Any]], *, number: str = "70"
    ) -> str:
        """An incoming invoice (doctype 002) from `seller_tin` to `company_tin`; returns its doc_id."""
        with self.lock:
            doc_id = uuid.uuid4().hex.upper()
            total = sum(p["count"] * p["summa"] * (1 + p.get("vatrate", 12) / 100) for p in products)
            content = {
                "facturadoc": {"facturano": number, "facturadate": "2026-08-04"},
                "contractdoc": {"contractno": "1", "contractdate": "2026-03-26"},
                "sellertin": seller_tin,
                "buyertin": company_tin,
                "seller": {"name": seller_name},
                "buyer": {"name": "BETA"},
                "productlist": {
                    "products": [
                        {"ordno": n, "packagecode": "1505731", "packagename": "dona", "vatrate": 12, "origin": 2, **p}
                        for n, p in enumerate(products, start=1)
                    ]
                },
            }
            row = {
                "doc_id": doc_id,
                "name": number,
                "doc_date": "2026-08-04",
                "contract_number": "1",
                "partnerTin": seller_tin,
                "partnerCompany": seller_name,
                "usersTaxId": company_tin,
                "total_delivery_sum_with_vat": round(total, 2),
                "roaming_id": f"r{next(self._seq)}",
                "created": "2026-08-04",
                "updated": "2026-08-04",
                "doc_status": 2,
                "doctype": "002",
                "owner": 0,
            }
            document = {"doc_id": doc_id, "status": 2, "doctype": "002", "roaming_id": row["roaming_id"]}
            self.documents[doc_id] = {"company": company_tin, "row": row, "json": content, "document": document}
            return doc_id

    def drafts_of(self, company_tin: str) -> list[dict[str, Any]]:
        with self.lock:
            return [d["body"] for d in self.drafts.values() if d["company"] == company_tin]

    # --- HTTP ----------------------------------------------------------------------------
    def handle(self, request: Recorded) -> Reply:
        if request.headers.get("partner-authorization") != self.partner_token:
            return UNAUTHORIZED
        if request.method == "POST" and (m := LOGIN.fullmatch(request.path)):
            return self._login(request, m["tin"])
        user = self.tokens.get(request.headers.get("user-key", ""))
        route = (request.method, request.path)
        if request.method == "POST" and (m := COMPANY.fullmatch(request.path)):
            return self._company(user, m["tin"])
        if route == ("GET", "/v2/documents"):
            return self._list(user, request)
        if request.method == "GET" and (m := DOCUMENT.fullmatch(request.path)):
            return self._document(user, m["id"].upper(), request)
        if request.method == "POST" and CREATE.fullmatch(request.path):
            return self._create(user, request)
        return Reply(404, {"success": False, "error": "Not found"})

    @staticmethod
    def _json_body(request: Recorded) -> Any:
        if (request.headers.get("content-type") or "").split(";")[0].strip() != "application/json":
            return None
        try:
            return request.json()
        except ValueError:
            return None

    def _login(self, request: Recorded, tin: str) -> Reply:
        body = self._json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("password"), str):
            return Reply(422, {"password": ["The password field is required."]})
        with self.lock:
            self.logins += 1
            if tin not in self.accounts:
                return Reply(422, {"message": "User not registered"})
            if self.bad_tries.get(tin, 0) >= 3:  # §2.1: 3 bad tries → blocked for 10 min
                return Reply(423, {"message": "Account is blocked for 10 minutes"})
            if self.accounts[tin] != body["password"]:
                self.bad_tries[tin] = self.bad_tries.get(tin, 0) + 1
                return Reply(422, {"message": "Incorrect login"})
            token = str(uuid.uuid4())
            self.tokens[token] = tin
        return Reply(
            200,
            {
                "token": token,
                "taxId": tin,
                "pinfl": None,
                "name": "BETA",
                "related_companies": [],
                "related_branches": [],
            },
        )

    def _company(self, user: str | None, tin: str) -> Reply:
        if user is None:
            return UNAUTHORIZED
        with self.lock:
            if tin not in self.accounts:
                return Reply(422, {"message": "Company not registered"})
            token = str(uuid.uuid4())
            self.tokens[token] = tin
        return Reply(200, {"token": token, "permissions": {"tin": tin, "roles": ["director"]}})

    def _list(self, user: str | None, request: Recorded) -> Reply:
        if user is None:
            return UNAUTHORIZED
        query = {k: v[-1] for k, v in request.query.items()}
        try:
            page, limit = int(query["page"]), int(query["limit"])
        except (KeyError, ValueError):
            return Reply(422, {"page": ["required"], "limit": ["required"]})
        if not 1 <= limit <= 100 or page < 1:
            return Reply(422, {"limit": ["The limit may not be greater than 100."]})
        owner = query.get("owner", "1")  # §2.2: default outgoing
        with self.lock:
            rows = [d["row"] for d in self.documents.values() if d["company"] == user and owner == "0"]
        start = (page - 1) * limit
        return Reply(200, {"data": rows[start : start + limit], "total": len(rows), "next_page_url": None})

    def _document(self, user: str | None, doc_id: str, request: Recorded) -> Reply:
        if user is None:
            return UNAUTHORIZED
        with self.lock:
            doc = self.documents.get(doc_id)
        if doc is None or doc["company"] != user:
            return Reply(404, {"data": {"status": "error", "message": "Document not found", "context": None}})
        return Reply(200, {"data": {"json": doc["json"], "document": doc["document"], "toSign": None}})

    def _create(self, user: str | None, request: Recorded) -> Reply:
        if user is None:
            return UNAUTHORIZED
        body = self._json_body(request)
        if not isinstance(body, dict):
            return Reply(422, {"body": ["JSON object expected"]})
        missing = [f for f in DRAFT_FIELDS if body.get(f) is None]
        products = (body.get("ProductList") or {}).get("Products") or []
        if not products:
            missing.append("ProductList.Products")
        for n, product in enumerate(products):
            missing += [f"ProductList.Products.{n}.{f}" for f in PRODUCT_FIELDS if product.get(f) in (None, "")]
        if body.get("SellerTin") != user:
            missing.append("SellerTin")
        if missing:
            return Reply(422, {name: ["The field is required."] for name in missing})
        draft_id = uuid.uuid4().hex
        with self.lock:
            self.drafts[draft_id] = {"company": user, "body": body}
        return Reply(
            200, {"pending_document": {"document_json": body}, "_id": draft_id, "created_date": "2026-08-04 16:30:07"}
        )
