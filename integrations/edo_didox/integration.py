"""Didox EDO (shared/docs/edo-contract.md §2): incoming invoices into REGOS, REGOS invoices as Didox drafts.

Settings per firm (§1.4): `DIDOX_PASSWORD` (required), `DIDOX_LOCALE` (`ru`/`uz`),
`DIDOX_LOGIN_TAX_ID` (a person acting for the company: then the company is switched to).
The company TIN is the REGOS firm's `inn`. The partner token is the gateway's (`DIDOX_PARTNER_TOKEN`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from integrations.connected_settings import setting
from integrations.edo.base import EdoIntegrationBase
from integrations.edo.dates import format_day, parse_day, regos_datetime
from integrations.edo.flows import ExportInput
from integrations.edo.models import DocumentListItem, DocumentPage, ProviderDocument, ProviderRow
from integrations.edo.tokens import TokenCache
from integrations.edo.values import digits, to_decimal
from integrations.edo_didox.client import DidoxClient
from integrations.errors import PermanentError, SettingsError
from schemas.api.docs.invoice import InvoiceStatus
from schemas.api.references.firm import Firm
from schemas.api.references.partner import Requisites

TOKEN_TTL = 300 * 60  # tokens live 360 min (§2.1): cache them for 300
DOCUMENT_TYPES = "002,005,008,023"  # invoices, acts, pharma and hybrid invoices (§1.5, §2.3)
# Didox origin (1 own, 2 resale, 3 service, 4 n/a) → REGOS (1 own, 0 resale, 2 service, -1 unset), §1.3
ORIGIN = {1: 1, 2: 0, 3: 2, 4: -1}


@dataclass(frozen=True)
class Session:
    token: str
    locale: str


class DidoxIntegration(EdoIntegrationBase):
    done_statuses: ClassVar[set[str]] = {InvoiceStatus.IN_SENT_PROGRESS, InvoiceStatus.SENT}
    export_status: ClassVar[InvoiceStatus] = InvoiceStatus.IN_SENT_PROGRESS  # the user signs in Didox

    def _client(self) -> DidoxClient:
        settings = self.ctx.settings
        partner = settings.didox_partner_token.get_secret_value()
        if not partner:
            raise SettingsError("edo_didox: DIDOX_PARTNER_TOKEN is not configured on the gateway")
        return DidoxClient(self.ctx.http, settings.didox_base_url, partner, timeout=settings.provider_timeout_seconds)

    async def login(self, firm: Firm, settings: Mapping[str, str]) -> Session:
        password = setting(settings, "DIDOX_PASSWORD")
        if not password:
            raise SettingsError(f"edo_didox {self.cid}: setting DIDOX_PASSWORD is empty for firm {firm.id}")
        locale = (setting(settings, "DIDOX_LOCALE") or "ru").lower()
        locale = locale if locale in ("ru", "uz") else "ru"
        company = digits(firm.inn)
        login_id = digits(setting(settings, "DIDOX_LOGIN_TAX_ID")) or company
        cache = TokenCache(
            self.ctx.redis,
            self.ctx.settings.secret_key,
            provider="didox",
            cid=f"{self.cid}:{firm.id}",
            login=f"{login_id}:{company}",
            password=password,
        )
        client = self._client()

        async def fresh() -> tuple[str, int]:
            token = await client.login(login_id, password, locale)
            if login_id != company:
                token = await client.switch_company(token, company, locale)
            return token, TOKEN_TTL

        return Session(await cache.obtain(fresh), locale)

    async def list_documents(
        self, session: Session, firm: Firm, *, start: int | None, end: int | None, limit: int, offset: int
    ) -> DocumentPage:
        params: dict[str, Any] = {"page": offset // limit + 1, "limit": limit, "owner": 0, "doctype": DOCUMENT_TYPES}
        if start is not None:
            params["docDateFromCreated"] = format_day(start)
        if end is not None:
            params["docDateToCreated"] = format_day(end)
        answer = await self._client().list_documents(session.token, params)
        rows = [
            DocumentListItem(
                id=str(row.get("doc_id")),
                roaming_id=row.get("roaming_id"),
                name=str(row.get("name") or row.get("doc_id")),
                partner_name=row.get("partnerCompany"),
                partner_inn=row.get("partnerTin"),
                contract=row.get("contract_number"),
                firm=firm.fullname or firm.name,
                date=regos_datetime(parse_day(row.get("doc_date"))),
                create_date=regos_datetime(parse_day(row.get("created"))),
                update_date=regos_datetime(parse_day(row.get("updated"))),
                amount=to_decimal(row.get("total_delivery_sum_with_vat") or row.get("total_sum")),
            )
            for row in answer.get("data") or []
            if isinstance(row, dict) and row.get("doc_id")
        ]
        return DocumentPage(rows=rows, total=int(answer.get("total") or 0))

    async def fetch_document(self, session: Session, firm: Firm, document_id: str) -> ProviderDocument:
        data = await self._client().get_document(session.token, document_id)
        content = data.get("json") or (data.get("pending_document") or {}).get("document_json")
        if not isinstance(content, dict):
            raise PermanentError(f"didox document {document_id}: no content")
        doctype = str((data.get("document") or {}).get("doctype") or "002")
        if doctype not in DOCUMENT_TYPES.split(","):
            raise PermanentError(f"didox document {document_id}: type {doctype} is not an invoice or act")
        ours = digits(firm.inn)
        seller_is_us = digits(content.get("sellertin")) == ours
        partner_tin = digits(content.get("buyertin") if seller_is_us else content.get("sellertin"))
        partner = content.get("buyer" if seller_is_us else "seller") or {}
        head = content.get("facturadoc") or content.get("actdoc") or {}
        number = head.get("facturano") or head.get("actno") or document_id
        contract = content.get("contractdoc") or {}
        rows = [
            ProviderRow(
                index=int(row.get("ordno") or n + 1),
                name=str(row.get("name") or row.get("catalogname") or ""),
                icps=row.get("catalogcode") or None,
                barcode=row.get("barcode") or None,
                package_code=str(row["packagecode"]) if row.get("packagecode") else None,
                package_name=row.get("packagename"),
                quantity=to_decimal(row.get("count")),
                price=to_decimal(row.get("summa")),
                vat_rate=None if row.get("withoutvat") else to_decimal(row.get("vatrate")),
                origin=ORIGIN.get(int(row.get("origin") or 4), -1),
            )
            for n, row in enumerate((content.get("productlist") or {}).get("products") or [])
        ]
        if not rows:
            raise PermanentError(f"didox document {document_id} ({number}) has no rows")
        date = parse_day(head.get("facturadate") or head.get("actdate"))
        if date is None:
            raise PermanentError(f"didox document {document_id} ({number}) has no date")
        return ProviderDocument(
            external_id=document_id,
            roaming_id=(data.get("document") or {}).get("roaming_id"),
            number=str(number),
            date=date,
            contract_number=contract.get("contractno"),
            contract_date=parse_day(contract.get("contractdate")),
            partner_inn=partner_tin,
            partner_name=str(partner.get("name") or partner_tin),
            rows=rows,
        )

    async def create_draft(self, session: Session, firm: Firm, source: ExportInput) -> str:
        return await self._client().create_invoice(session.token, invoice_body(source), session.locale)


def _party(who: Requisites) -> dict[str, Any]:
    return {
        "Name": who.fullname or who.name or "",
        "Account": who.rs or "",
        "BankId": who.mfo or "",
        "Address": who.address or "",
        "Director": who.boss_name or "",
        "Accountant": "",
        "VatRegCode": who.vat_index or "",
        "VatRegStatus": 20 if who.vat_index else None,
    }


def _money(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01")))


def invoice_body(source: ExportInput) -> dict[str, Any]:
    """The draft Didox creates (§2.4), by its rules: DeliverySum = Count x Summa, VAT on top of it."""
    invoice = source.invoice
    vat_included = (invoice.vat_calculation_type or "") == "Exclude"  # REGOS: Exclude = VAT inside the amount
    products = []
    for n, row in enumerate(source.rows, start=1):
        rate = row.vat_value or Decimal(0)
        gross = row.quantity * row.price
        vat = gross * rate / (100 + rate) if vat_included else gross * rate / 100
        net = gross - vat if vat_included else gross
        item = row.item
        products.append(
            {
                "OrdNo": n,
                "Name": item.name if item else "",
                "CatalogCode": item.icps if item else None,
                "CatalogName": item.name if item else "",
                "PackageCode": item.package_code if item else None,
                "PackageName": item.name if item else "",
                "Count": float(row.quantity.quantize(Decimal("0.000001"))),
                "Summa": _money(net / row.quantity if row.quantity else Decimal(0)),
                "DeliverySum": _money(net),
                "VatRate": float(rate),
                "VatSum": _money(vat),
                "DeliverySumWithVat": _money(net + vat),
                "WithoutVat": not rate,
            }
        )
    contract = invoice.contract
    return {
        "Version": 1,
        "FacturaType": 0,
        "FacturaDoc": {"FacturaNo": invoice.code or str(invoice.id), "FacturaDate": format_day(invoice.date)},
        "ContractDoc": {
            "ContractNo": (contract.code or contract.name) if contract else "1",
            "ContractDate": format_day(contract.date if contract and contract.date else invoice.date),
        },
        "SellerTin": digits(source.firm.inn),
        "BuyerTin": digits(source.partner.inn),
        "Seller": _party(source.firm),
        "Buyer": _party(source.partner),
        "ProductList": {
            "Tin": digits(source.firm.inn),
            "HasVat": any(p["VatSum"] for p in products),
            "Products": products,
        },
    }
