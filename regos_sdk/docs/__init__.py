"""Documents area: `api.docs.<resource>`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from regos_sdk.docs.cash_session import CashSessionService
from regos_sdk.docs.cheque import ChequeService
from regos_sdk.docs.contract import DocContractService
from regos_sdk.docs.invoice import DocInvoiceService
from regos_sdk.docs.invoice_operation import InvoiceOperationService
from regos_sdk.service import Namespace

if TYPE_CHECKING:
    from regos_sdk.api import RegosAPI


class DocsNamespace(Namespace):
    def __init__(self, api: RegosAPI) -> None:
        super().__init__(api)
        self.cheque = ChequeService(api)
        self.cash_session = CashSessionService(api)
        self.invoice = DocInvoiceService(api)
        self.invoice_operation = InvoiceOperationService(api)
        self.contract = DocContractService(api)
