"""Settings of a connected integration (`ConnectedIntegrationSetting/*`).

Integrations read their settings with `get_map()`: a case-insensitive mapping cached in Redis
for `settings.settings_cache_seconds`, encrypted at rest because values are secrets (passwords,
bot tokens). `edit()` and the `UpdateSettings` lifecycle action should call `invalidate_cache()`
(`edit()` does it itself).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson
from redis.exceptions import RedisError

from kit.secretbox import InvalidToken, SecretBox, secret_box
from regos_sdk.client import KEY_PREFIX
from regos_sdk.service import Service
from schemas.api.integrations.connected_integration_setting import Setting, SettingEdit, SettingGetRequest

log = logging.getLogger("regos_sdk.api")


class SettingsMap(Mapping[str, str]):
    """Read-only settings with case-insensitive keys (REGOS compares keys that way).

    `repr` hides values: they are secrets and a mapping ends up in tracebacks easily.
    """

    def __init__(self, items: Mapping[str, str] | Sequence[tuple[str, str]] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self._data: dict[str, tuple[str, str]] = {k.casefold(): (k, v) for k, v in pairs}

    def __getitem__(self, key: str) -> str:
        return self._data[key.casefold()][1]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.casefold() in self._data

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._data.values())

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"SettingsMap(keys={sorted(self)!r})"


class ConnectedIntegrationSettingService(Service):
    GET = "ConnectedIntegrationSetting/Get"
    EDIT = "ConnectedIntegrationSetting/Edit"

    @property
    def cache_key(self) -> str:
        return f"{KEY_PREFIX}settings:{self.cid}"

    async def get(self, *, firm_id: int | None = None) -> list[Setting]:
        """All settings rows of this connected integration, uncached."""
        request = SettingGetRequest(connected_integration_id=self.cid, firm_id=firm_id)
        return await self.api.call(self.GET, request, list[Setting])

    async def edit(self, items: Sequence[SettingEdit | Mapping[str, Any]]) -> None:
        """Write settings; `connected_integration_id` defaults to this facade's. Drops the cache.

        REGOS answers `{"ok": true, "result": null}`: the method has no output (docs.regos.uz,
        ConnectedIntegrationSetting/Edit; shared/docs/regos-contract.md §1). `ok: true` is success;
        `ok: false` raises `RegosAPIError`.
        """
        rows = [
            item if isinstance(item, SettingEdit) else SettingEdit(**{"connected_integration_id": self.cid, **item})
            for item in items
        ]
        try:
            await self.api.call(self.EDIT, rows, idempotent=True)
        finally:
            # Even a failed edit may have been applied: never serve a possibly stale map.
            await self.invalidate_cache()

    async def get_map(self, cached: bool = True) -> Mapping[str, str]:
        """Settings as a case-insensitive key → value mapping (values of None become "")."""
        ttl = self.api.settings.settings_cache_seconds
        if cached and ttl > 0:
            hit = await self._read_cache()
            if hit is not None:
                return hit
        rows = await self.get()
        pairs = [(row.key, row.value or "") for row in rows]
        if ttl > 0:
            await self._write_cache(pairs, ttl)
        return SettingsMap(pairs)

    async def invalidate_cache(self) -> None:
        try:
            await self.api.redis.delete(self.cache_key)
        except RedisError as exc:
            log.warning("could not drop the settings cache of %s (%s)", self.cid, type(exc).__name__)

    def _box(self) -> SecretBox:
        return secret_box(self.api.settings.secret_key)

    async def _read_cache(self) -> SettingsMap | None:
        try:
            sealed = await self.api.redis.get(self.cache_key)
        except RedisError as exc:
            log.warning("settings cache unavailable (%s); reading from REGOS", type(exc).__name__)
            return None
        if not sealed:
            return None
        try:
            pairs = orjson.loads(self._box().open(sealed))
        except (InvalidToken, orjson.JSONDecodeError):
            return None
        return SettingsMap([(k, v) for k, v in pairs])

    async def _write_cache(self, pairs: list[tuple[str, str]], ttl: int) -> None:
        try:
            await self.api.redis.set(self.cache_key, self._box().seal(orjson.dumps(pairs)), ex=ttl)
        except RedisError as exc:
            log.warning("could not cache settings of %s (%s)", self.cid, type(exc).__name__)
