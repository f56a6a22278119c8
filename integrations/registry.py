"""The one mapping from URL key to integration.

Adding an integration: a package `integrations/<key>/` with its class, and one line in
`INTEGRATIONS` (README.md, "Adding an integration"); `register` adds one kept elsewhere. This
module is imported by the ingress, so it names classes by import path and loads them only in
workers: the ingress never imports REGOS or provider clients.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from integrations.guards import ExternalGuard, SignedCallbackGuard, TelegramUpdateGuard
from integrations.messages import Validator, validate_email, validate_sms, validate_telegram
from settings import MissingSettingError, Settings

if TYPE_CHECKING:
    from integrations.base import IntegrationBase

LIFECYCLE_ACTIONS = frozenset({"connect", "disconnect", "reconnect", "update_settings"})
BASE_ACTIONS = LIFECYCLE_ACTIONS | {"handle_webhook"}


@dataclass(frozen=True)
class CustomAction:
    """An integration's own REGOS action (EDO `GetDocuments`, `ImportDocument`, ...).

    Interactive ones (a REGOS user waits) are answered with the result when it is ready within
    `wait_seconds`, else with the queued form; background ones answer at once with the task id.
    The method of the same (snake_case) name receives the call's `data`.
    """

    background: bool
    wait_seconds: float = 0.0


def interactive(wait_seconds: float) -> CustomAction:
    return CustomAction(background=False, wait_seconds=wait_seconds)


BACKGROUND = CustomAction(background=True)


@dataclass(frozen=True)
class IntegrationSpec:
    target: str  # "package.module:ClassName"
    messages: Validator | None = None  # set for integrations that accept SendMessages
    external: ExternalGuard | None = None  # set for integrations that accept provider callbacks
    aliases: tuple[str, ...] = ()
    custom: Mapping[str, CustomAction] = field(default_factory=dict)  # snake_case action → kind
    action_aliases: Mapping[str, str] = field(default_factory=dict)  # other name → custom action

    @property
    def actions(self) -> frozenset[str]:
        """The allow-list of REGOS actions: nothing outside it ever reaches a method."""
        messaging = {"send_messages"} if self.messages else set()
        return BASE_ACTIONS | messaging | set(self.custom) | set(self.action_aliases)

    def canonical_action(self, action: str) -> str:
        """An alias (`get_document_content`) → the action it stands for; others unchanged."""
        return self.action_aliases.get(action, action)


# REGOS's EDO actions (shared/docs/edo-contract.md §1.2). How long REGOS waits is undocumented
# (§7.1): interactive answers wait about as long as one provider round trip with a login.
EDO_ACTIONS: Mapping[str, CustomAction] = {
    "check": interactive(10.0),
    "get_documents": interactive(20.0),
    "get_document_operations": interactive(20.0),
    "import_document": BACKGROUND,
    "export_documents": BACKGROUND,
}
EDO_ALIASES: Mapping[str, str] = {"get_document_content": "get_document_operations"}

INTEGRATIONS: dict[str, IntegrationSpec] = {
    "getsms": IntegrationSpec("integrations.getsms:GetSmsIntegration", messages=validate_sms),
    "email_sender": IntegrationSpec("integrations.email_sender:EmailSenderIntegration", messages=validate_email),
    "eskiz_sms": IntegrationSpec(
        "integrations.eskiz_sms:EskizSmsIntegration", messages=validate_sms, external=SignedCallbackGuard()
    ),
    "regos_telegram_notifier": IntegrationSpec(
        "integrations.regos_telegram_notifier:TelegramNotifierIntegration",
        messages=validate_telegram,
        external=TelegramUpdateGuard(),
        aliases=("telegram_bot_notification",),
    ),
    "edo_didox": IntegrationSpec(
        "integrations.edo_didox:DidoxIntegration", custom=EDO_ACTIONS, action_aliases=EDO_ALIASES
    ),
    "edo_fakturauz": IntegrationSpec(
        "integrations.edo_fakturauz:FakturaUzIntegration", custom=EDO_ACTIONS, action_aliases=EDO_ALIASES
    ),
}

_BY_NAME = {name: key for key, spec in INTEGRATIONS.items() for name in (key, *spec.aliases)}


def register(key: str, spec: IntegrationSpec) -> None:
    """Add an integration kept outside this file (a test's walk-through provider, a plug-in).

    Call it at import time of a module that both processes import: the ingress (for the
    allow-list) and every worker (`celery -A workers.app worker -I <that module>`)."""
    if key in INTEGRATIONS or any(name in _BY_NAME for name in spec.aliases):
        raise ValueError(f"integration key {key!r} (or an alias) is already registered")
    INTEGRATIONS[key] = spec
    _BY_NAME.update({name: key for name in (key, *spec.aliases)})


def resolve(client: str) -> tuple[str, IntegrationSpec] | None:
    """URL key or alias → (canonical key, spec); None for an unknown client."""
    key = _BY_NAME.get(client)
    return (key, INTEGRATIONS[key]) if key else None


@cache
def load_class(key: str) -> type[IntegrationBase]:
    module_name, _, class_name = INTEGRATIONS[key].target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def provider_base_urls(settings: Settings) -> dict[str, str]:
    """`metrics_target` → configured base URL of each integration that declares both (the outbound
    metrics match calls by these). Loads the integration classes: workers only."""
    urls: dict[str, str] = {}
    for key in INTEGRATIONS:
        cls = load_class(key)
        if cls.base_url_env and cls.metrics_target:
            try:
                urls[cls.metrics_target] = settings.base_url(cls.base_url_env, cls.base_url_default, key)
            except MissingSettingError:
                continue  # not configured here: its calls (none can be made) count as `other`
    return urls


def key_of(cls: type) -> str:
    """The registry key of an integration class, or of the nearest registered class it derives
    from (what `IntegrationBase.key` answers)."""
    for klass in cls.__mro__:
        for key in INTEGRATIONS:
            if load_class(key) is klass:
                return key
    raise LookupError(f"{cls.__qualname__} is not in integrations/registry.py")
