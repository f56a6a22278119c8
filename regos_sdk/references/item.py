"""Products by ICPS/barcode (`Item/Import`, `Item/Match`, shared/docs/edo-contract.md §4)."""

from __future__ import annotations

from collections.abc import Sequence

from regos_sdk.service import Service
from schemas.api.references.item import (
    MAX_ROWS,
    Comparation,
    ItemImportRequest,
    ItemImportResult,
    ItemImportRow,
    ItemMatchRequest,
    ItemMatchResult,
    ItemMatchRow,
)


class ItemService(Service):
    IMPORT = "Item/Import"
    MATCH = "Item/Match"

    async def import_(self, comparation: Comparation, rows: Sequence[ItemImportRow]) -> list[ItemImportResult]:
        """Create the products that do not exist yet (≤ 250 rows per call: chunked here)."""
        out: list[ItemImportResult] = []
        for start in range(0, len(rows), MAX_ROWS):
            request = ItemImportRequest(comparation_value=comparation, data=list(rows[start : start + MAX_ROWS]))
            out += await self.api.call(self.IMPORT, request, list[ItemImportResult] | None) or []
        return out

    async def match(self, comparation: Comparation, rows: Sequence[ItemMatchRow]) -> list[ItemMatchResult]:
        out: list[ItemMatchResult] = []
        for start in range(0, len(rows), MAX_ROWS):
            request = ItemMatchRequest(type=comparation, data=list(rows[start : start + MAX_ROWS]))
            out += await self.api.call(self.MATCH, request, list[ItemMatchResult] | None) or []
        return out
