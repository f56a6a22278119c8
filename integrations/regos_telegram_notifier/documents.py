"""The REGOS documents a batch of notifier events needs, each list fetched once per batch.

One `DocCheque/Get` for every cheque uuid of the batch; one `DocCashSession/Get` for the session
events' uuids and, with STOCK_IDS set, the cheques' sessions; one `OperatingCash/Get` for the
distinct cash registers of those sessions (STOCK_IDS only). A failed call reaches only the events
that needed it: the failure is kept per id and raised when that id is looked up. When REGOS
refuses a whole list outright (a non-retryable answer, e.g. one id it cannot parse), each id is
asked alone, so a poisoned event fails alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from regos_sdk import RegosAPI
from regos_sdk.errors import RegosAPIError
from schemas.api.docs.cash_session import CashSession
from schemas.api.docs.cheque import Cheque
from schemas.api.references.operating_cash import OperatingCash

Doc = TypeVar("Doc")
Id = TypeVar("Id", str, int)


def _norm(doc_id: object) -> str:
    """Uuids compare case-insensitively (as before batching); numeric ids by their digits."""
    return str(doc_id).lower()


async def fetch_each(
    fetch: Callable[[list[Id]], Awaitable[list[Doc]]], ids: Sequence[Id], doc_id: Callable[[Doc], Id]
) -> dict[str, Doc | Exception]:
    """{normalised id: document, or the exception its fetch raised}; ids REGOS does not return are absent."""
    unique = list(dict.fromkeys(ids))
    if not unique:
        return {}
    wanted = {_norm(i) for i in unique}
    try:
        return {_norm(doc_id(doc)): doc for doc in await fetch(unique) if _norm(doc_id(doc)) in wanted}
    except RegosAPIError as exc:
        if exc.retryable or len(unique) == 1:
            return dict.fromkeys(wanted, exc)
    except Exception as exc:  # transport, rate limit, Redis: every id of the call shares the failure
        return dict.fromkeys(wanted, exc)
    found: dict[str, Doc | Exception] = {}
    for one in unique:  # REGOS refused the list: find the id it refuses
        found.update(await fetch_each(fetch, [one], doc_id))
    return found


def _pick(found: dict[str, Doc | Exception], doc_id: object) -> Doc | None:
    value = found.get(_norm(doc_id))
    if isinstance(value, Exception):
        raise value
    return value


@dataclass
class Documents:
    cheques: dict[str, Cheque | Exception] = field(default_factory=dict)
    sessions: dict[str, CashSession | Exception] = field(default_factory=dict)
    cashes: dict[str, OperatingCash | Exception] = field(default_factory=dict)

    def cheque(self, uuid: str) -> Cheque | None:
        return _pick(self.cheques, uuid)

    def session(self, uuid: str) -> CashSession | None:
        return _pick(self.sessions, uuid)

    def cash(self, operating_cash_id: int) -> OperatingCash | None:
        return _pick(self.cashes, operating_cash_id)


async def fetch_documents(
    api: RegosAPI, cheque_uuids: Sequence[str], session_uuids: Sequence[str], *, with_stocks: bool
) -> Documents:
    docs = Documents()
    docs.cheques = await fetch_each(api.docs.cheque.get_by_uuids, cheque_uuids, lambda c: c.uuid)
    sessions = list(session_uuids)
    if with_stocks:
        sessions += [c.session for c in docs.cheques.values() if isinstance(c, Cheque) and c.session]
    docs.sessions = await fetch_each(api.docs.cash_session.get_by_uuids, sessions, lambda s: s.uuid)
    if with_stocks:
        cash_ids = [s.operating_cash_id for s in docs.sessions.values() if isinstance(s, CashSession)]
        docs.cashes = await fetch_each(lambda ids: api.references.operating_cash.get(ids=ids), cash_ids, lambda o: o.id)
    return docs
