"""VAT invoices (`DocInvoice/*`) as the EDO flows use them (shared/docs/edo-contract.md §4).

`SetStatus`, `SetExternalData` and `InvoiceOperation/Add` need the invoice locked by the caller
(docs.regos.uz): use `locked(id)`, which always unlocks. Their results may be `{}`, `null` or carry
`ids: [null]`, so only `row_affected` / `new_id` are read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from regos_sdk.service import Service
from schemas.api.docs.invoice import (
    DocInvoice,
    DocInvoiceAddRequest,
    DocInvoiceGetRequest,
    IdsRequest,
    InvoiceStatus,
    NewIdResult,
    SetExternalDataRequest,
    SetStatusRequest,
)

MAX_ERROR_MESSAGE = 1000


class DocInvoiceService(Service):
    GET = "DocInvoice/Get"
    ADD = "DocInvoice/Add"
    SET_STATUS = "DocInvoice/SetStatus"
    SET_EXTERNAL_DATA = "DocInvoice/SetExternalData"
    LOCK = "DocInvoice/Lock"
    UNLOCK = "DocInvoice/Unlock"

    async def get(self, request: DocInvoiceGetRequest) -> list[DocInvoice]:
        return await self.api.call(self.GET, request, list[DocInvoice] | None) or []

    async def get_by_id(self, invoice_id: int) -> DocInvoice | None:
        found = await self.get(DocInvoiceGetRequest(ids=[invoice_id], limit=1))
        return found[0] if found else None

    async def find_income_by_external_code(self, firm_id: int, external_code: str) -> DocInvoice | None:
        """The incoming invoice imported from this provider document, if any (the import's idempotency key)."""
        found = await self.get(
            DocInvoiceGetRequest(invoice_type="Income", firm_ids=[firm_id], external_code=external_code, limit=1)
        )
        return next((d for d in found if d.external_code == external_code), None)

    async def add(self, request: DocInvoiceAddRequest) -> int:
        result = await self.api.call(self.ADD, request, NewIdResult)
        return result.new_id

    async def set_status(self, invoice_id: int, status: InvoiceStatus, error_message: str | None = None) -> None:
        message = error_message[:MAX_ERROR_MESSAGE] if error_message else None
        await self.api.call(
            self.SET_STATUS,
            SetStatusRequest(document_id=invoice_id, status=status, error_message=message),
            idempotent=True,
        )

    async def set_external_data(self, invoice_id: int, external_id: str, roaming_id: str | None = None) -> None:
        request = SetExternalDataRequest(
            document_id=invoice_id, connected_integration_id=self.cid, external_id=external_id, roaming_id=roaming_id
        )
        await self.api.call(self.SET_EXTERNAL_DATA, request, idempotent=True)

    async def lock(self, invoice_id: int) -> None:
        await self.api.call(self.LOCK, IdsRequest(ids=[invoice_id]))

    async def unlock(self, invoice_id: int) -> None:
        await self.api.call(self.UNLOCK, IdsRequest(ids=[invoice_id]), idempotent=True)

    @asynccontextmanager
    async def locked(self, invoice_id: int) -> AsyncIterator[None]:
        """Hold REGOS's lock on the invoice for the block; always released."""
        await self.lock(invoice_id)
        try:
            yield
        finally:
            await self.unlock(invoice_id)
