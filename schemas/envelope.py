"""What REGOS sends, and what travels inside a task.

`RegosCall` is the HTTP body as REGOS posts it; the ingress normalises it once into a
`TaskEnvelope`, which is the only thing the workers and integrations ever see.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.message_state import MessageStatus, Resolution

# REGOS promises no shape for the id: its docs show `11v5929ba236415hb31346ede021bdi4` (not hex).
# Validated for safety only (it ends up in URLs, Redis keys and logs): a bounded run of letters/digits.
CONNECTED_INTEGRATION_ID = r"^[A-Za-z0-9]{1,64}$"
_CAMEL = re.compile(r"^[A-Z][A-Za-z0-9]{0,63}$")
_SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+){0,7}$")


def canonical_action(name: str) -> str | None:
    """`UpdateSettings` or `update_settings` → `update_settings`; anything else → None.

    Only plain identifiers pass, so `__class__`, `_private` or `a.b` can never name a method.
    """
    if _CAMEL.match(name):
        return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    if _SNAKE.match(name):
        return name
    return None


class RegosCall(BaseModel):
    """Body of `POST /clients/{client}` as REGOS sends it."""

    model_config = ConfigDict(extra="ignore")

    action: str = Field(min_length=1, max_length=64, examples=["HandleWebhook"])
    connected_integration_id: str | None = Field(
        None, pattern=CONNECTED_INTEGRATION_ID, examples=["11v5929ba236415hb31346ede021bdi4"]
    )
    data: Any = None
    event_id: str | None = Field(None, min_length=1, max_length=200)
    occurred_at: str | None = Field(None, max_length=64)


class TaskEnvelope(BaseModel):
    """One call, normalised at the ingress: the single argument of every gateway task."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client: str
    action: str  # canonical snake_case: connect, handle_webhook, send_messages, ...
    connected_integration_id: str
    data: Any = None
    event_id: str | None = None
    occurred_at: str | None = None
    request_id: str = ""
    received_at: float = 0.0


class ExternalRequest(BaseModel):
    """A provider's call on an external endpoint, minus hop-by-hop and secret headers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str
    path: str  # the part after `/external/` (and after the connected integration id, if any)
    query: dict[str, str] = {}
    headers: dict[str, str] = {}
    body: Any = None


class WebhookCall(BaseModel):
    """`data` of a HandleWebhook call: `{"action": "DocChequeClosed", "data": {...}}`."""

    model_config = ConfigDict(extra="ignore")

    action: str = Field(min_length=1, max_length=128)
    data: Any = None


class WebhookEvent(BaseModel):
    """One HandleWebhook call inside a batch of one connected integration: the webhook and what
    identifies its event (its own task, for per-event results; its event id, for exactly-once effects)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    call: WebhookCall
    event_id: str | None = None
    occurred_at: str | None = None
    task_id: str = ""
    request_id: str = ""


class OutgoingMessage(BaseModel):
    """One validated item of SendMessages: `recipient` already normalised by the integration kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: int  # position in the original array, kept for per-message reporting
    recipient: str
    message: str
    image_url: str | None = None
    subject: str | None = None  # e-mail only
    is_html: bool | None = None  # e-mail only
    extra: dict[str, Any] | None = None  # the item's other fields, echoed in its outcome (e-mail)


class InvalidItem(BaseModel):
    index: int
    reason: str


class ErrorBody(BaseModel):
    error: int
    description: str


class IntegrationSuccessResponse(BaseModel):
    ok: Literal[True] = True
    result: Any = None


class IntegrationErrorResponse(BaseModel):
    ok: Literal[False] = False
    result: ErrorBody

    @classmethod
    def of(cls, error: int, description: str) -> IntegrationErrorResponse:
        return cls(result=ErrorBody(error=error, description=description))


IntegrationResult = IntegrationSuccessResponse | IntegrationErrorResponse


def mask_recipient(recipient: str) -> str:
    """Only the last 4 characters stay visible: enough for support, useless to a leak."""
    return "*" * max(len(recipient) - 4, 0) + recipient[-4:]


class MessageOutcome(BaseModel):
    """What happened to one message of a SendMessages call."""

    index: int
    recipient: str  # masked (`mask_recipient`): only the last 4 characters are visible
    status: MessageStatus
    segments: int | None = None
    provider_id: str | None = None
    error: str | None = None
    # How an earlier attempt's unknown outcome was settled (`Resolution`).
    resolution: Resolution | None = None
    extra: dict[str, Any] | None = None  # echoed from the item (e.g. REGOS's campaign recipient id)
