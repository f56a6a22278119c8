"""Document dates: REGOS keeps unix seconds, providers print calendar dates in Tashkent time.

Using UTC would shift a local-midnight date to the previous day (edo-contract.md §6.9).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

TASHKENT = timezone(timedelta(hours=5))


def parse_day(text: str | None, fmt: str = "%Y-%m-%d") -> int | None:
    if not text:
        return None
    try:
        return int(datetime.strptime(text[:10], fmt).replace(tzinfo=TASHKENT).timestamp())
    except ValueError:
        return None


def format_day(unix: int | None, fmt: str = "%Y-%m-%d") -> str:
    moment = datetime.fromtimestamp(unix, TASHKENT) if unix is not None else datetime.now(UTC).astimezone(TASHKENT)
    return moment.strftime(fmt)


def regos_datetime(unix: int | None) -> str | None:
    """`DD.MM.YYYY HH:MM:SS` as docs.regos.uz shows DocInvoiceFromRoaming dates."""
    return None if unix is None else datetime.fromtimestamp(unix, TASHKENT).strftime("%d.%m.%Y %H:%M:%S")
