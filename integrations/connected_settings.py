"""Reading a connected integration's settings (from REGOS; values are secrets: never echoed).

The one way every integration reads them: `await self.settings_map()` (integrations/base.py)
gives the case-insensitive mapping, and these functions read names out of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from integrations.errors import SettingsError


def setting(values: Mapping[str, str], name: str) -> str | None:
    """The stripped value of `name` (case-insensitive), None when absent or blank."""
    value = values.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in values.items() if str(k).lower() == lowered), None)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def missing(values: Mapping[str, str], names: Iterable[str]) -> list[str]:
    return [name for name in names if setting(values, name) is None]


def require(values: Mapping[str, str], names: Iterable[str], label: str) -> None:
    """Raise SettingsError naming (never showing) the missing settings."""
    absent = missing(values, names)
    if absent:
        raise SettingsError(f"{label}: setting {', '.join(absent)} is missing or empty in REGOS")
