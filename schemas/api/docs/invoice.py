"""`DocInvoice/*`: VAT invoices (shared/docs/edo-contract.md §4; docs.regos.uz /en/api/documents/docinvoice)."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import PlainSerializer

from schemas.api.base import Code, ReadModel, RequestModel

# Amounts sent to REGOS as JSON numbers (pydantic's JSON mode would write Decimals as strings).
Number = Annotated[Decimal, PlainSerializer(float, return_type=float)]

InvoiceType = Literal["Income", "Outcome", "Corrective"]
VatCalculationType = Literal["No", "Exclude", "Include"]  # Exclude: VAT inside the amount; Include: on top


class InvoiceStatus(StrEnum):
    """Statuses REGOS keeps for the EDO exchange of an invoice (§4, status enum)."""

    NEW = "New"
    IN_SENT_PROGRESS = "InSentProgress"
    SENT = "Sent"
    IN_RECEIVED_PROGRESS = "InReceivedProgress"
    RECEIVED = "Received"
    ERROR_SENT = "ErrorSent"
    ERROR_RECEIVED = "ErrorReceived"
    UNKNOWN = "Unknown"


# Numeric codes of the same enum, as some answers carry them (§4: New 1 ... Unknown 8).
STATUS_BY_CODE = {i + 1: s for i, s in enumerate(InvoiceStatus)}


class Named(ReadModel):
    id: int | None = None
    name: str | None = None


class InvoiceContract(ReadModel):
    id: int | None = None
    code: Code | None = None
    name: str | None = None
    date: int | None = None


class InvoiceCurrency(ReadModel):
    id: int | None = None
    code_num: Code | None = None
    code_chr: str | None = None


class DocInvoice(ReadModel):
    id: int
    date: int | None = None  # unix seconds
    code: Code | None = None
    invoice_type: str | None = None
    corrected_code: Code | None = None
    corrected_date: int | None = None
    contract: InvoiceContract | None = None
    firm: Named | None = None
    partner: Named | None = None
    currency: InvoiceCurrency | None = None
    exchange_rate: Decimal | None = None
    amount: Decimal | None = None
    status: str | int | None = None
    external_code: str | None = None
    performed: bool | None = None
    vat_calculation_type: str | None = None

    @property
    def status_name(self) -> str | None:
        if isinstance(self.status, int):
            return STATUS_BY_CODE.get(self.status)
        return self.status


class DocInvoiceGetRequest(RequestModel):
    ids: list[int] | None = None
    firm_ids: list[int] | None = None
    invoice_type: InvoiceType | None = None
    external_code: str | None = None
    limit: int | None = None
    offset: int | None = None


class DocInvoiceAddRequest(RequestModel):
    date: int
    contract_id: int
    firm_id: int
    partner_id: int
    currency_id: int
    invoice_type: InvoiceType
    vat_calculation_type: VatCalculationType  # required per docs.regos.uz (§4; upstream omitted it)
    description: str | None = None
    attached_user_id: int | None = None


class SetStatusRequest(RequestModel):
    document_id: int
    status: InvoiceStatus
    error_message: str | None = None  # kept by REGOS for Error* statuses only, ≤ 1024 characters


class SetExternalDataRequest(RequestModel):
    document_id: int
    connected_integration_id: str
    external_id: str  # becomes `external_code`; ≤ 100 characters
    roaming_id: str | None = None


class IdsRequest(RequestModel):
    ids: list[int]  # DocInvoice/Lock and /Unlock take {"ids": [...]} (§4; upstream's {"id"} is wrong)


class NewIdResult(ReadModel):
    new_id: int
