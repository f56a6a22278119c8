"""Invoice rows (`InvoiceOperation/*`, shared/docs/edo-contract.md §4)."""

from __future__ import annotations

from collections.abc import Sequence

from regos_sdk.service import Service
from schemas.api.docs.invoice_operation import InvoiceOperation, InvoiceOperationAdd, InvoiceOperationGetRequest

MAX_ADD = 250  # rows per InvoiceOperation/Add (docs.regos.uz)


class InvoiceOperationService(Service):
    GET = "InvoiceOperation/Get"
    ADD = "InvoiceOperation/Add"

    async def get_for(self, invoice_id: int) -> list[InvoiceOperation]:
        """Every row of one invoice, across pages."""
        request = InvoiceOperationGetRequest(document_ids=[invoice_id])
        return [row async for row in self.api.paginate(self.GET, request, InvoiceOperation)]

    async def add(self, rows: Sequence[InvoiceOperationAdd]) -> int:
        """Add rows in chunks of 250 (the invoice must be locked); returns rows affected."""
        affected = 0
        for start in range(0, len(rows), MAX_ADD):
            result = await self.api.call(self.ADD, list(rows[start : start + MAX_ADD]))
            affected += int((result or {}).get("row_affected") or 0) if isinstance(result, dict) else 0
        return affected
