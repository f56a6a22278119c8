"""The REGOS side of an EDO integration: the custom actions REGOS calls (edo-contract.md §1.2).

A provider integration implements four hooks (login, list, fetch, create draft); this class
validates `data`, reads the firm and its settings, and runs the idempotent flows.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any, ClassVar

from integrations.base import IntegrationBase, IntegrationResult
from integrations.connected_settings import setting
from integrations.edo import auto_import, flows
from integrations.edo.models import DocumentPage, ProviderDocument
from integrations.errors import PermanentError, SettingsError
from regos_sdk import RegosAPI
from regos_sdk.integrations.connected_integration_setting import SettingsMap
from schemas.api.docs.invoice import InvoiceStatus
from schemas.api.references.firm import Firm, FirmGetRequest

MAX_EXPORT = 100  # DocInvoice/Send accepts 1 to 100 ids (§1.2)
DEFAULT_LIMIT = 50


def _int(data: Mapping[str, Any], *names: str, required: bool = True) -> int | None:
    for name in names:
        value = data.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.isdigit():
            return int(value)
    if required:
        raise PermanentError(f"data.{names[0]} (an integer) is required")
    return None


async def _firm_settings(api: RegosAPI, firm_id: int) -> Mapping[str, str]:
    """This connected integration's settings for one firm (EDO settings are per firm, edo-contract.md
    §1.4), read like any other (`integrations.connected_settings.setting`). Uncached: per firm."""
    rows = await api.integrations.connected_integration_setting.get(firm_id=firm_id)
    return SettingsMap([(row.key, row.value or "") for row in rows])


def refused(exc: PermanentError) -> dict[str, Any]:
    """An interactive action's permanent failure as REGOS reads it (ok false, HTTP 200)."""
    return {"ok": False, "result": {"error": 400, "description": str(exc)}}


Action = Callable[["EdoIntegrationBase", Any], Awaitable[dict[str, Any]]]


def answer_refusals(action: Action) -> Action:
    """REGOS waits for these actions' answer: a permanent failure is answered (`refused`), not raised."""

    @functools.wraps(action)
    async def answer(self: EdoIntegrationBase, data: Any) -> dict[str, Any]:
        try:
            return await action(self, data)
        except PermanentError as exc:
            return refused(exc)

    return answer


def _object(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise PermanentError("data must be an object")
    return data


def _firm_id(body: Mapping[str, Any]) -> int:
    firm_id = _int(body, "firm_id")
    assert firm_id is not None  # required: _int raised otherwise
    return firm_id


def _document_id(body: Mapping[str, Any], *names: str) -> str:
    """The first of `names` present (the actions disagree on which they call `id`)."""
    document_id = next((str(body[name]) for name in names if body.get(name)), "")
    if not document_id:
        raise PermanentError(f"data.{names[0]} (the provider document id) is required")
    return document_id


class EdoIntegrationBase(IntegrationBase):
    done_statuses: ClassVar[set[str]]  # an export already made: skip on re-run
    export_status: ClassVar[InvoiceStatus]  # the invoice's status after a successful export

    # --- provider hooks ------------------------------------------------------------------
    async def login(self, firm: Firm, settings: Mapping[str, str]) -> Any:
        raise NotImplementedError

    async def list_documents(
        self, session: Any, firm: Firm, *, start: int | None, end: int | None, limit: int, offset: int
    ) -> DocumentPage:
        raise NotImplementedError

    async def fetch_document(self, session: Any, firm: Firm, document_id: str) -> ProviderDocument:
        raise NotImplementedError

    async def create_draft(self, session: Any, firm: Firm, source: flows.ExportInput) -> str:
        raise NotImplementedError

    # --- plumbing ------------------------------------------------------------------------
    async def _firm_session(self, api: RegosAPI, firm_id: int) -> tuple[Firm, Any]:
        firm = await api.references.firm.get_by_id(firm_id)
        if firm is None or not firm.inn:
            raise SettingsError(f"{self.key} {self.cid}: firm {firm_id} not found in REGOS or has no TIN")
        return firm, await self.login(firm, await _firm_settings(api, firm_id))

    async def _open_firm(self, firm_id: int) -> tuple[Firm, Any]:
        """`_firm_session` on a REGOS connection of its own (for actions that need no more of REGOS)."""
        async with self.ctx.regos() as api:
            return await self._firm_session(api, firm_id)

    def _job(self, api: RegosAPI, firm_id: int) -> flows.Job:
        return flows.Job(api, self.ctx.redis, self.key, self.cid, firm_id)

    # --- lifecycle: the auto-import registry (integrations/edo/auto_import.py) ------------
    async def connect(self) -> IntegrationResult:
        await self._sync_auto_import()
        return await super().connect()

    async def update_settings(self) -> IntegrationResult:
        await self._sync_auto_import()
        return await super().update_settings()

    async def disconnect(self) -> IntegrationResult:
        await auto_import.forget(self.ctx.redis, self.key, self.cid)
        return await super().disconnect()

    async def _sync_auto_import(self) -> None:
        """Record the firms whose settings turn `EDO_AUTO_IMPORT` on (settings are per firm)."""
        async with self.ctx.regos() as api:
            request = FirmGetRequest(limit=auto_import.MAX_FIRMS)
            firms = await api.call("Firm/Get", request, list[Firm] | None) or []
            on = []
            for firm in firms:
                if auto_import.is_on(setting(await _firm_settings(api, firm.id), auto_import.SETTING)):
                    on.append(firm.id)
        await auto_import.record(self.ctx.redis, self.key, self.cid, on)

    async def new_documents(self, firm_id: int) -> list[str]:
        """Ids of incoming documents dated in the last days (first page, ≤ 100); the poll
        enqueues the import of those it has not enqueued before."""
        firm, session = await self._open_firm(firm_id)
        now = int(time.time())
        page = await self.list_documents(
            session, firm, start=now - auto_import.LOOKBACK_SECONDS, end=now, limit=100, offset=0
        )
        return [row.id for row in page.rows]

    # --- REGOS actions -------------------------------------------------------------------
    @answer_refusals
    async def check(self, data: Any) -> dict[str, Any]:
        firm_id = _firm_id(_object(data or {}))
        firm, _ = await self._open_firm(firm_id)
        return {"ok": True, "result": {"status": "connected", "firm_id": firm_id, "inn": firm.inn}}

    @answer_refusals
    async def get_documents(self, data: Any) -> dict[str, Any]:
        """A page of incoming documents in REGOS's DocInvoiceFromRoaming shape."""
        body = _object(data)
        firm_id = _firm_id(body)
        limit = min(max(_int(body, "limit", required=False) or DEFAULT_LIMIT, 1), 100)
        offset = max(_int(body, "offset", required=False) or 0, 0)
        firm, session = await self._open_firm(firm_id)
        page = await self.list_documents(
            session,
            firm,
            start=_int(body, "start_date", required=False),
            end=_int(body, "end_date", required=False),
            limit=limit,
            offset=offset,
        )
        total = max(page.total, offset + len(page.rows))
        next_offset = offset + limit if offset + len(page.rows) < total and page.rows else 0
        rows = [row.model_dump(mode="json") for row in page.rows]
        return {"ok": True, "next_offset": next_offset, "total": total, "result": rows}

    @answer_refusals
    async def get_document_operations(self, data: Any) -> dict[str, Any]:
        """The rows of one provider document as InvoiceRoamingOperation (docs.regos.uz)."""
        body = _object(data)
        firm_id = _firm_id(body)
        document_id = _document_id(body, "document_id", "id")
        firm, session = await self._open_firm(firm_id)
        doc = await self.fetch_document(session, firm, document_id)
        result = [
            {
                "name": row.name,
                "icps": row.icps,
                "barcode": row.barcode,
                "package_code": row.package_code,
                "package_name": row.package_name,
                "quantity": float(row.quantity),
                "price": f"{row.price.quantize(Decimal('0.01'))}",
                "labels": [],
                "group_labels": [],
                "transport_labels": [],
                "origin": row.origin,
                "vat_rate": float(row.vat_rate) if row.vat_rate is not None else None,
            }
            for row in doc.rows
        ]
        return {"ok": True, "result": result}

    async def import_document(self, data: Any) -> dict[str, Any]:
        body = _object(data)
        firm_id = _firm_id(body)
        document_id = _document_id(body, "id", "document_id")
        async with self.ctx.regos() as api:
            firm, session = await self._firm_session(api, firm_id)
            doc = await self.fetch_document(session, firm, document_id)
            result = await flows.import_document(self._job(api, firm_id), doc)
        return {"ok": True, "result": result}

    # ExportDocuments fans out (workers/edo_export.py): the plan is checked and the provider login
    # tried once by the parent, then each invoice is exported by its own task, so one invoice's
    # failure or retry never redoes another.
    def export_plan(self, data: Any) -> tuple[int, list[int]]:
        """`data` of ExportDocuments → (firm id, invoice ids); refused when malformed."""
        body = _object(data)
        firm_id = _firm_id(body)
        ids = body.get("ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_EXPORT or not all(isinstance(i, int) for i in ids):
            raise PermanentError(f"data.ids must be 1..{MAX_EXPORT} invoice ids")
        return firm_id, list(dict.fromkeys(ids))  # an id listed twice is exported once

    async def prepare_export(self, firm_id: int) -> None:
        """Log in once before fanning out: a refused password fails the export at once, before
        a hundred document tasks could each try it (Didox locks the account, §2.1)."""
        await self._open_firm(firm_id)

    async def export_document(self, firm_id: int, invoice_id: int) -> dict[str, Any]:
        """One invoice: `exported`, `skipped` (already exported) or `refused` with the reason
        (REGOS's or the provider's message, also put on the invoice). Transient errors raise."""
        async with self.ctx.regos() as api:
            try:
                firm, session = await self._firm_session(api, firm_id)

                async def create(source: flows.ExportInput) -> str:
                    return await self.create_draft(session, firm, source)

                row = await flows.export_invoice(
                    self._job(api, firm_id),
                    invoice_id,
                    create,
                    done_statuses=self.done_statuses,
                    final=self.export_status,
                )
            except Exception as exc:
                if not flows.is_permanent(exc):
                    raise
                return {"invoice_id": invoice_id, "status": "refused", "error": flows.describe_failure(exc)}
        skipped = row.pop("already_exported", False)
        return {**row, "status": "skipped" if skipped else "exported"}
