"""GetSMS provider client: one endpoint, form-encoded, `data` a JSON string of messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx2
import orjson

from integrations.sms import http as sms_http

MAX_BATCH = 50


async def send_messages(
    http: httpx2.AsyncClient,
    url: str,
    *,
    login: str,
    password: str,
    nickname: str | None,
    messages: Sequence[tuple[str, str]],
    timeout_seconds: float,
) -> Any:
    """POST `[(phone, text), ...]` (≤ 50). Returns the provider's JSON answer on 2xx.

    Raises `integrations.sms.http` errors (NotSent / OutcomeUnknown / ProviderHTTPError);
    a 2xx answer that is not JSON is OutcomeUnknown (the contract promises JSON).
    """
    form = {
        "login": login,
        "password": password,
        "data": orjson.dumps([{"phone": phone, "text": text} for phone, text in messages]).decode(),
    }
    if nickname:
        form["nickname"] = nickname
    response = await sms_http.call(
        http, "getsms send", "POST", url, timeout_seconds=timeout_seconds, secrets=(login, password), data=form
    )
    try:
        return response.json()
    except ValueError:
        raise sms_http.OutcomeUnknown("getsms send", f"HTTP {response.status_code} with a non-JSON answer") from None


def request_id_of(answer: Any) -> str | None:
    """The provider's id for the call, when its answer carries one."""
    if isinstance(answer, dict):
        for name in ("request_id", "id", "message_id", "batch_id"):
            if answer.get(name) not in (None, ""):
                return str(answer[name])
    return None
