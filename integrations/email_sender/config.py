"""The SMTP settings of one connected integration, read from REGOS (values are secrets: never echoed)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.utils import parseaddr
from typing import Literal

from integrations.connected_settings import require, setting
from integrations.errors import SettingsError
from integrations.messages import normalize_email

Security = Literal["starttls", "tls", "none"]
SECURITY_MODES: tuple[Security, ...] = ("starttls", "tls", "none")
DEFAULT_PORTS: dict[Security, int] = {"starttls": 587, "tls": 465, "none": 25}
REQUIRED = ("SMTP_HOST", "SMTP_FROM")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: Security
    sender: Address  # SMTP_FROM: the envelope sender and the From header
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    reply_to: Address | None = None
    rate_per_minute: int | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def sender_domain(self) -> str:
        return self.sender.domain


def _address(value: str, name: str, label: str) -> Address:
    display_name, raw = parseaddr(value)
    address = normalize_email(raw) if raw else None
    if address is None:
        raise SettingsError(f"{label}: setting {name} is not an e-mail address (`Shop <shop@example.com>` or bare)")
    local, _, domain = address.rpartition("@")
    return Address(display_name=display_name, username=local, domain=domain)


def _positive_int(values: Mapping[str, str], name: str, label: str) -> int | None:
    raw = setting(values, name)
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) <= 0:
        raise SettingsError(f"{label}: setting {name} must be a positive whole number")
    return int(raw)


def parse(values: Mapping[str, str], label: str) -> SmtpConfig:
    """The connected integration's SMTP settings; SettingsError names (never shows) a bad one."""
    require(values, REQUIRED, label)
    security = (setting(values, "SMTP_SECURITY") or "starttls").lower()
    if security not in SECURITY_MODES:
        raise SettingsError(f"{label}: setting SMTP_SECURITY must be one of {', '.join(SECURITY_MODES)}")
    username, password = setting(values, "SMTP_USERNAME"), setting(values, "SMTP_PASSWORD")
    if username and not password:
        raise SettingsError(f"{label}: setting SMTP_PASSWORD is missing or empty in REGOS (SMTP_USERNAME is set)")
    port = _positive_int(values, "SMTP_PORT", label) or DEFAULT_PORTS[security]  # type: ignore[index]
    if port > 65535:
        raise SettingsError(f"{label}: setting SMTP_PORT must be a TCP port (1-65535)")
    reply_to = setting(values, "SMTP_REPLY_TO")
    return SmtpConfig(
        host=setting(values, "SMTP_HOST") or "",
        port=port,
        security=security,  # type: ignore[arg-type]
        sender=_address(setting(values, "SMTP_FROM") or "", "SMTP_FROM", label),
        username=username,
        password=password,
        reply_to=_address(reply_to, "SMTP_REPLY_TO", label) if reply_to else None,
        rate_per_minute=_positive_int(values, "SMTP_RATE_PER_MINUTE", label),
    )
