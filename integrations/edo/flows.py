"""Import (provider → REGOS) and export (REGOS → provider) of one document, idempotently.

Import: one invoice per provider document. A Redis lock per provider document serialises jobs;
`external_code` (= provider id) and a marker written right after `DocInvoice/Add` find an invoice
created by an earlier attempt, which is then completed instead of created again. Items are matched
before anything is created, so an unknown product creates nothing.

Export: a Redis marker holds the provider's draft id as soon as it exists, so a re-run after a
crash links that draft instead of creating a second one.

REGOS writes (status, external data, rows) happen under `DocInvoice/Lock`, always unlocked.
Permanent failures put the error status and the provider's message on the invoice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from redis.asyncio import Redis

from integrations.edo.models import ProviderDocument, ProviderRow
from integrations.errors import IntegrationError, PermanentError, TransientError
from regos_sdk import RegosAPI
from regos_sdk.errors import RegosError
from schemas.api.docs.contract import ContractAddRequest, ContractGetShortRequest
from schemas.api.docs.invoice import DocInvoice, DocInvoiceAddRequest, InvoiceStatus
from schemas.api.docs.invoice_operation import InvoiceOperation, InvoiceOperationAdd
from schemas.api.references.firm import Firm
from schemas.api.references.item import Comparation, ItemImportRow, ItemMatchRow
from schemas.api.references.partner import Partner, PartnerAddRequest

log = logging.getLogger("integrations.edo")

MARKER_TTL = 30 * 86_400
LOCK_TTL = 120
LOCK_WAIT = 20
UZS_CURRENCY_ID = 1  # edo-contract.md §7.9: the tenant's UZS; upstream uses 1
PARTNER_GROUP_ID = 1


@dataclass(frozen=True)
class Job:
    api: RegosAPI
    redis: Redis
    provider: str  # integration key: edo_didox / edo_fakturauz
    cid: str
    firm_id: int

    def key(self, *parts: object) -> str:
        return ":".join(["gw:edo", self.provider, self.cid, *map(str, parts)])


def is_permanent(exc: BaseException) -> bool:
    return isinstance(exc, PermanentError) or (isinstance(exc, RegosError) and not exc.retryable)


async def _mark_error(job: Job, invoice_id: int, status: InvoiceStatus, exc: BaseException) -> None:
    try:
        async with job.api.docs.invoice.locked(invoice_id):
            await job.api.docs.invoice.set_status(invoice_id, status, str(exc))
    except RegosError as mark_exc:  # the original failure matters more: report both
        log.error("could not set %s on invoice %s: %s", status, invoice_id, mark_exc)


# --- import --------------------------------------------------------------------------------


def _comparation(row: ProviderRow, document: str) -> tuple[Comparation, str]:
    if row.icps and row.barcode:
        return "ICPSBarcode", f"{row.icps}|{row.barcode}"
    if row.icps:
        return "ICPS", row.icps
    if row.barcode:
        return "Barcode", row.barcode
    raise PermanentError(f"document {document} row {row.index} ({row.name}): no ICPS code and no barcode")


async def match_items(job: Job, doc: ProviderDocument) -> dict[int, int]:
    """Row index → REGOS item id, creating missing products by ICPS/barcode (Item/Import, Item/Match)."""
    groups: dict[Comparation, list[tuple[ProviderRow, str]]] = {}
    for row in doc.rows:
        kind, value = _comparation(row, doc.number)
        groups.setdefault(kind, []).append((row, value))
    items: dict[int, int] = {}
    for kind, rows in groups.items():
        imports = [
            ItemImportRow(
                index=row.index,
                name=row.name,
                icps=row.icps,
                icpsbarcode=value if kind == "ICPSBarcode" else None,
                barcodes=row.barcode if kind == "Barcode" else None,
                package_code=row.package_code,
            )
            for row, value in rows
        ]
        for result in await job.api.references.item.import_(kind, imports):
            if not result.success:
                raise PermanentError(f"document {doc.number} row {result.index}: REGOS Item/Import refused the product")
        matched = await job.api.references.item.match(kind, [ItemMatchRow(index=r.index, value=v) for r, v in rows])
        items.update({m.index: m.item_id for m in matched if m.item_id})
        for row, value in rows:
            if row.index not in items:
                raise PermanentError(f"document {doc.number} row {row.index} ({row.name}): no product matches {value}")
    return items


async def _partner(job: Job, inn: str, name: str) -> Partner | int:
    found = await job.api.references.partner.find_by_inn(inn)
    if found is not None:
        return found
    return await job.api.references.partner.add(
        PartnerAddRequest(group_id=PARTNER_GROUP_ID, legal_status="Legal", name=name, fullname=name, inn=inn)
    )


async def _contract(job: Job, partner_id: int, doc: ProviderDocument) -> int:
    code = doc.contract_number or doc.number
    rows = await job.api.docs.contract.get_short(
        ContractGetShortRequest(direction="Income", firm_ids=[job.firm_id], partner_ids=[partner_id])
    )
    exact = next((c for c in rows if code in (c.code, c.name) and c.partner_id in (None, partner_id)), None)
    if exact is not None:
        return exact.id
    date = doc.contract_date or doc.date
    return await job.api.docs.contract.add(
        ContractAddRequest(
            code=code,
            name=code,
            details=code,
            date=date,
            start_date=date,
            end_date=date,
            direction="Income",
            firm_id=job.firm_id,
            partner_id=partner_id,
            amount=doc.amount or Decimal(0),
            currency_id=UZS_CURRENCY_ID,
        )
    )


async def _existing_import(job: Job, doc: ProviderDocument) -> int | None:
    found = await job.api.docs.invoice.find_income_by_external_code(job.firm_id, doc.external_id)
    if found is not None:
        return found.id
    marker = await job.redis.get(job.key("import", doc.external_id))
    return int(marker) if marker else None


async def import_document(job: Job, doc: ProviderDocument) -> dict[str, Any]:
    """Create (or complete) the REGOS incoming invoice for one provider document."""
    lock = job.redis.lock(job.key("import", doc.external_id, "lock"), timeout=LOCK_TTL, blocking_timeout=LOCK_WAIT)
    if not await lock.acquire():
        raise TransientError(f"document {doc.external_id} is being imported by another job")
    try:
        invoice_id = await _existing_import(job, doc)
        if invoice_id is not None:
            current = await job.api.docs.invoice.get_by_id(invoice_id)
            if current is not None and current.status_name == InvoiceStatus.RECEIVED:
                return {"invoice_id": invoice_id, "external_id": doc.external_id, "already_imported": True}
        items = await match_items(job, doc)
        if invoice_id is None:
            partner = await _partner(job, doc.partner_inn, doc.partner_name)
            partner_id = partner if isinstance(partner, int) else partner.id
            contract_id = await _contract(job, partner_id, doc)
            invoice_id = await job.api.docs.invoice.add(
                DocInvoiceAddRequest(
                    date=doc.date,
                    contract_id=contract_id,
                    firm_id=job.firm_id,
                    partner_id=partner_id,
                    currency_id=UZS_CURRENCY_ID,
                    invoice_type="Income",
                    vat_calculation_type="Include",  # provider prices exclude VAT: VAT goes on top
                    description=f"{job.provider} {doc.number}",
                )
            )
            await job.redis.set(job.key("import", doc.external_id), invoice_id, ex=MARKER_TTL)
        try:
            await _fill(job, invoice_id, doc, items)
        except Exception as exc:
            if is_permanent(exc):
                await _mark_error(job, invoice_id, InvoiceStatus.ERROR_RECEIVED, exc)
            raise
        return {"invoice_id": invoice_id, "external_id": doc.external_id, "rows": len(doc.rows)}
    finally:
        await lock.release()


async def _fill(job: Job, invoice_id: int, doc: ProviderDocument, items: dict[int, int]) -> None:
    invoices = job.api.docs.invoice
    async with invoices.locked(invoice_id):
        await invoices.set_status(invoice_id, InvoiceStatus.IN_RECEIVED_PROGRESS)
        await invoices.set_external_data(invoice_id, doc.external_id, doc.roaming_id)
        if not await job.api.docs.invoice_operation.get_for(invoice_id):  # a resumed import may have its rows
            rows = [
                InvoiceOperationAdd(
                    document_id=invoice_id,
                    item_id=items[row.index],
                    quantity=row.quantity,
                    price=row.price,
                    vat_value=row.vat_rate if row.vat_rate is not None else Decimal(-1),
                )
                for row in doc.rows
            ]
            await job.api.docs.invoice_operation.add(rows)
        await invoices.set_status(invoice_id, InvoiceStatus.RECEIVED)


# --- export --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportInput:
    invoice: DocInvoice
    firm: Firm
    partner: Partner
    rows: list[InvoiceOperation]


CreateDraft = Callable[[ExportInput], Awaitable[str]]


async def export_invoice(
    job: Job, invoice_id: int, create: CreateDraft, *, done_statuses: set[str], final: InvoiceStatus
) -> dict[str, Any]:
    """Send one REGOS invoice to the provider; the outcome lands on the invoice."""
    invoices = job.api.docs.invoice
    invoice = await invoices.get_by_id(invoice_id)
    if invoice is None:
        raise PermanentError(f"invoice {invoice_id} not found in REGOS")
    if invoice.external_code and invoice.status_name in done_statuses:
        return {"invoice_id": invoice_id, "external_id": invoice.external_code, "already_exported": True}
    marker_key = job.key("export", invoice_id)
    try:
        source = await _export_input(job, invoice)
        marker = await job.redis.get(marker_key)
        external_id = marker.decode() if marker else await create(source)
        await job.redis.set(marker_key, external_id, ex=MARKER_TTL)
        async with invoices.locked(invoice_id):
            await invoices.set_external_data(invoice_id, external_id)
            await invoices.set_status(invoice_id, final)
    except Exception as exc:
        if is_permanent(exc):
            await _mark_error(job, invoice_id, InvoiceStatus.ERROR_SENT, exc)
        raise
    return {"invoice_id": invoice_id, "external_id": external_id, "invoice_status": str(final)}


async def _export_input(job: Job, invoice: DocInvoice) -> ExportInput:
    if invoice.performed is False:
        raise PermanentError(f"invoice {invoice.id} is not posted")
    if invoice.partner is None or invoice.partner.id is None or invoice.firm is None or invoice.firm.id is None:
        raise PermanentError(f"invoice {invoice.id} has no partner or firm")
    firm = await job.api.references.firm.get_by_id(invoice.firm.id)
    partner = await job.api.references.partner.get_by_id(invoice.partner.id)
    if firm is None or partner is None:
        raise PermanentError(f"invoice {invoice.id}: firm or partner not found in REGOS")
    rows = await job.api.docs.invoice_operation.get_for(invoice.id)
    if not rows:
        raise PermanentError(f"invoice {invoice.id} has no rows")
    return ExportInput(invoice, firm, partner, rows)


def describe_failure(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, IntegrationError | RegosError) else f"{type(exc).__name__}: {exc}"
