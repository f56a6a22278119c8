"""Reading the loose values EDO providers send: TINs with punctuation, amounts as text or numbers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def digits(value: str | None) -> str:
    """Only the digits: `"305 123-456"` → `"305123456"` (TINs, as providers and REGOS spell them)."""
    return "".join(ch for ch in value or "" if ch.isdigit())


def to_decimal(value: Any) -> Decimal:
    """An amount as a Decimal; absent or unreadable → 0 (a provider's row is never refused for it)."""
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except ArithmeticError:
        return Decimal(0)
