"""The one mapping from URL key to integration.

Adding an integration: a package `integrations/<key>/` with its class, and one line in
`INTEGRATIONS`. This module is imported by the ingress, so it names classes by import path
and loads them only in workers: the ingress never imports REGOS or provider clients.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from integrations.guards import ExternalGuard, SignedCallbackGuard, TelegramUpdateGuard
from integrations.messages import Validator, validate_sms, validate_telegram

if TYPE_CHECKING:
    from integrations.base import IntegrationBase

LIFECYCLE_ACTIONS = frozenset({"connect", "disconnect", "reconnect", "update_settings"})
BASE_ACTIONS = LIFECYCLE_ACTIONS | {"handle_webhook"}


@dataclass(frozen=True)
class IntegrationSpec:
    target: str  # "package.module:ClassName"
    messages: Validator | None = None  # set for integrations that accept SendMessages
    external: ExternalGuard | None = None  # set for integrations that accept provider callbacks
    aliases: tuple[str, ...] = ()

    @property
    def actions(self) -> frozenset[str]:
        """The allow-list of REGOS actions: nothing outside it ever reaches a method."""
        return BASE_ACTIONS | ({"send_messages"} if self.messages else frozenset())


INTEGRATIONS: dict[str, IntegrationSpec] = {
    "getsms": IntegrationSpec("integrations.getsms:GetSmsIntegration", messages=validate_sms),
    "eskiz_sms": IntegrationSpec(
        "integrations.eskiz_sms:EskizSmsIntegration", messages=validate_sms, external=SignedCallbackGuard()
    ),
    "regos_telegram_notifier": IntegrationSpec(
        "integrations.regos_telegram_notifier:TelegramNotifierIntegration",
        messages=validate_telegram,
        external=TelegramUpdateGuard(),
        aliases=("telegram_bot_notification",),
    ),
}

_BY_NAME = {name: key for key, spec in INTEGRATIONS.items() for name in (key, *spec.aliases)}


def resolve(client: str) -> tuple[str, IntegrationSpec] | None:
    """URL key or alias → (canonical key, spec); None for an unknown client."""
    key = _BY_NAME.get(client)
    return (key, INTEGRATIONS[key]) if key else None


@cache
def load_class(key: str) -> type[IntegrationBase]:
    module_name, _, class_name = INTEGRATIONS[key].target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)
