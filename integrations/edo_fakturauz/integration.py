"""Faktura.uz EDO (shared/docs/edo-contract.md §3): incoming invoices into REGOS, REGOS invoices registered.

Settings per firm (§1.4): `FAKTURA_UZ_CLIENT_ID`, `FAKTURA_UZ_LOGIN`, `FAKTURA_UZ_PASSWORD`,
`FAKTURA_UZ_PRIVATE_KEY` (the OAuth client secret). The company TIN is the REGOS firm's `inn`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

import orjson

from integrations.connected_settings import missing, setting
from integrations.edo.base import EdoIntegrationBase
from integrations.edo.dates import format_day, parse_day, regos_datetime
from integrations.edo.flows import ExportInput
from integrations.edo.models import DocumentListItem, DocumentPage, ProviderDocument, ProviderRow
from integrations.edo.tokens import TokenCache
from integrations.edo.values import digits, to_decimal
from integrations.edo_fakturauz.client import FakturaClient, rows_of, total_of
from integrations.errors import PermanentError, SettingsError
from schemas.api.docs.invoice import InvoiceStatus
from schemas.api.references.firm import Firm
from schemas.api.references.partner import Requisites

REQUIRED = ("FAKTURA_UZ_CLIENT_ID", "FAKTURA_UZ_LOGIN", "FAKTURA_UZ_PASSWORD", "FAKTURA_UZ_PRIVATE_KEY")
MAX_TOKEN_CACHE = 86_400  # tokens live 7-14 days (§3.1): re-login daily, not every 4 min as upstream did
TYPES, STATUSES = "2,5,28,29", "22,24"  # as upstream sends them; meaning undocumented (§3.2, §7.7)


@dataclass(frozen=True)
class Session:
    auth: str


def _day(text: Any) -> int | None:
    text = str(text or "")
    return parse_day(text, "%d.%m.%Y") if len(text) >= 10 and text[2] == "." else parse_day(text)


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


class FakturaUzIntegration(EdoIntegrationBase):
    done_statuses: ClassVar[set[str]] = {InvoiceStatus.SENT}
    export_status: ClassVar[InvoiceStatus] = InvoiceStatus.SENT

    def _client(self) -> FakturaClient:
        s = self.ctx.settings
        return FakturaClient(
            self.ctx.http, s.faktura_uz_api_url, s.faktura_uz_token_url, timeout=s.provider_timeout_seconds
        )

    async def login(self, firm: Firm, settings: Mapping[str, str]) -> Session:
        absent = missing(settings, REQUIRED)
        if absent:
            raise SettingsError(f"edo_fakturauz {self.cid}: settings {', '.join(absent)} empty for firm {firm.id}")
        client_id, login, password, secret = (setting(settings, name) or "" for name in REQUIRED)
        cache = TokenCache(
            self.ctx.redis,
            self.ctx.settings.secret_key,
            provider="fakturauz",
            cid=f"{self.cid}:{firm.id}",
            login=f"{client_id}:{login}",
            password=f"{password}\0{secret}",
        )

        async def fresh() -> tuple[str, int]:
            auth, expires_in = await self._client().token(login, password, client_id, secret)
            return auth, min(expires_in - 300, MAX_TOKEN_CACHE)

        return Session(await cache.obtain(fresh))

    async def list_documents(
        self, session: Session, firm: Firm, *, start: int | None, end: int | None, limit: int, offset: int
    ) -> DocumentPage:
        params: dict[str, Any] = {
            "companyInn": digits(firm.inn),
            "isInbox": "true",
            "types": TYPES,
            "statuses": STATUSES,
            "limit": limit,
            "skip": offset,
        }
        if start is not None:
            params["invoiceDateFrom"] = start * 1000  # unix ms (§3.2)
        if end is not None:
            params["invoiceDateTo"] = end * 1000
        answer = await self._client().documents(session.auth, params)
        rows = [
            DocumentListItem(
                id=str(row["uniqueId"]),
                roaming_id=row.get("roamingUid"),
                name=str(row.get("title") or row["uniqueId"]),
                partner_name=(row.get("contractor") or {}).get("name"),
                partner_inn=(row.get("contractor") or {}).get("inn"),
                contract=row.get("contract"),
                firm=firm.fullname or firm.name,
                date=regos_datetime(_day(row.get("createdDateTime"))),
                create_date=regos_datetime(_day(row.get("createdDateTime"))),
                update_date=regos_datetime(_day(row.get("updatedDateTime"))),
                amount=to_decimal(row.get("totalPrice")),
            )
            for row in rows_of(answer)
            if row.get("uniqueId")
        ]
        return DocumentPage(rows=rows, total=total_of(answer, offset + len(rows)))

    async def fetch_document(self, session: Session, firm: Firm, document_id: str) -> ProviderDocument:
        found = await self._client().contents(session.auth, digits(firm.inn), [document_id])
        row = next((r for r in found if r.get("UniqueId") == document_id), None)
        if row is None:
            raise PermanentError(f"faktura document {document_id} not found")
        try:
            content = orjson.loads(row.get("Content") or "null")
        except orjson.JSONDecodeError:
            content = None
        if not isinstance(content, dict):
            raise PermanentError(f"faktura document {document_id}: content is not a JSON object")
        number = str(content.get("invoiceNumber") or document_id)
        services = content.get("invoiceServices") or content.get("actServices") or []
        rows = [
            ProviderRow(
                index=n,
                name=str(s.get("title") or ""),
                icps=(s.get("catalog") or {}).get("code") or None,
                barcode=s.get("barcode") or None,
                package_code=str(s["measurementCode"]) if s.get("measurementCode") else None,
                package_name=s.get("measurement"),
                quantity=to_decimal(s.get("quantity")),
                price=to_decimal(s.get("pricePerItem")),
                vat_rate=to_decimal(s["vatRate"]) if s.get("vatRate") is not None else None,
            )
            for n, s in enumerate(services, start=1)
        ]
        date = _day(content.get("invoiceDate"))
        if not rows or date is None:
            raise PermanentError(f"faktura document {document_id} ({number}) has no rows or no date")
        partner_inn = digits(content.get("ownerInn"))
        return ProviderDocument(
            external_id=document_id,
            roaming_id=row.get("RoamingUid"),
            number=number,
            date=date,
            contract_number=content.get("invoiceContractNumber"),
            contract_date=_day(content.get("invoiceContractDate")),
            partner_inn=partner_inn,
            partner_name=str(content.get("ownerName") or partner_inn),
            rows=rows,
        )

    async def create_draft(self, session: Session, firm: Firm, source: ExportInput) -> str:
        return await self._client().register(session.auth, digits(firm.inn), register_body(self.cid, source))


def _party(who: Requisites) -> dict[str, Any]:
    return {
        "company_name": who.fullname or who.name or "",
        "INN": digits(who.inn),
        "company_vat_code": who.vat_index or "",
        "address": {"region": "", "street": who.address or ""},
        "bank_details": {"bank_code": who.mfo or "", "bank_name": who.bank_name or "", "account_number": who.rs or ""},
    }


def register_body(cid: str, source: ExportInput) -> dict[str, Any]:
    """`ImportDocumentRegister` body (§3.4); VAT computed per REGOS's vat_calculation_type (§5.2)."""
    invoice = source.invoice
    vat_inside = (invoice.vat_calculation_type or "") == "Exclude"
    items, sub_total, vat_total = [], Decimal(0), Decimal(0)
    for n, row in enumerate(source.rows, start=1):
        rate = row.vat_value or Decimal(0)
        gross = row.quantity * row.price
        vat = gross * rate / (100 + rate) if vat_inside else gross * rate / 100
        net = gross - vat if vat_inside else gross
        sub_total, vat_total = sub_total + net, vat_total + vat
        items.append(
            {
                "item_number": str(n),
                "description": row.item.name if row.item else "",
                "volume": _money(row.quantity),
                "unit_price": _money(net / row.quantity if row.quantity else Decimal(0)),
                "measurement_unit_code": (row.item.package_code if row.item else None) or "",
                "excise": {},
                "catalog": {"code": (row.item.icps if row.item else None) or "", "name": ""},
                "subtotal": _money(net),
                "vat": {"vat_rate": _money(rate), "vat_value": _money(vat)} if rate else {},
                "subtotal_with_taxes": _money(net + vat),
            }
        )
    contract = invoice.contract
    total = sub_total + vat_total
    return {
        "invoices": [
            {
                "id": f"regos-{cid}-{invoice.id}",
                "head": {
                    "file_name": f"invoice-{invoice.id}.json",
                    "sender": {"sender_info": _party(source.firm), "approver_and_signers": {}},
                    "receiver": {"receiver_info": _party(source.partner), "approver_and_signers": {}},
                },
                "document": {
                    "document_date": format_day(invoice.date, "%d.%m.%Y"),
                    "document_number": invoice.code or str(invoice.id),
                    "contract_date": format_day(
                        contract.date if contract and contract.date else invoice.date, "%d.%m.%Y"
                    ),
                    "contract_number": (contract.code or contract.name or "1") if contract else "1",
                    "currency_code": (invoice.currency.code_num if invoice.currency else None) or "860",
                    "currency_rate": _money(invoice.exchange_rate or Decimal(1)),
                    "factura_type": "0",
                    "items": items,
                    "column_summary_values": {
                        "column_subtotal": _money(sub_total),
                        "column_vat_value": _money(vat_total),
                        "column_subtotal_with_taxes": _money(total),
                    },
                    "column_summary_values_in_words": {"column_subtotal_in_words": f"{_money(total)} UZS"},
                },
            }
        ]
    }
