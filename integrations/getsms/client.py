"""GetSMS provider client: the send and status calls, and how their answers are read.

Contract (shared/docs/providers.md "GetSMS"; getsms.uz/page/index/16; the production gateway's
client regos-software/py-integrations clients/getsms/main.py):
- `POST {GETSMS_BASE_URL}` (the URL exactly as configured, trailing slash included), form
  encoded (`application/x-www-form-urlencoded`): `login`, `password`, optional `nickname`,
  `data` = a JSON string `[{"phone": "998901234567", "text": "..."}]`.
- `POST {GETSMS_BASE_URL}status/`, same credentials, `data` = `[{"request_id": "52480252"}]`.
- Both answer HTTP 200 with a JSON array, one element per item of `data`, in order. Errors are
  in-band: `{"error": 1, "error_no": N, "error_text" (or "text"): "..."}`. 1xx/2xx refuse the
  whole request (a one-element array); 300 refuses one message; 400 is an unknown request_id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx2
import orjson

from integrations.sms import http as sms_http

# getsms.uz/page/index/16: "один запрос 50 SMS-сообщений" (one request, 50 SMS); the production
# gateway sent batches of 50 as well. shared/docs/providers.md says 100: the provider page wins.
MAX_BATCH = 50

# Whole-request refusals (credentials, account, configuration): a retry will not fix them.
WHOLE_REQUEST_ERRORS = range(100, 300)
NOT_A_PHONE_NUMBER = 300
WRONG_REQUEST_ID = 400


class GetSmsRefused(Exception):
    """GetSMS refused the whole request in-band (`error_no` 1xx/2xx) and sent nothing."""

    def __init__(self, what: str, error_no: int, text: str) -> None:
        super().__init__(f"{what}: GetSMS error {error_no}: {text}")
        self.what = what
        self.error_no = error_no
        self.text = text


@dataclass(frozen=True)
class MessageAnswer:
    """GetSMS's answer for one message of a send call."""

    accepted: bool
    request_id: str | None = None
    message_id: str | None = None
    error_no: int | None = None
    error_text: str | None = None


def _error_no(element: dict[str, Any]) -> int | None:
    if not element.get("error"):
        return None
    try:
        return int(element.get("error_no"))
    except (TypeError, ValueError):
        return 0  # flagged as an error without a readable number


def _error_text(element: dict[str, Any]) -> str:
    text = element.get("error_text") or element.get("text") or "no explanation"
    return " ".join(str(text).split())[: sms_http.MAX_PROVIDER_TEXT]


def _id(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _whole_request_error(what: str, answer: Any) -> GetSmsRefused | None:
    if isinstance(answer, list) and len(answer) == 1 and isinstance(answer[0], dict):
        number = _error_no(answer[0])
        if number is not None and number in WHOLE_REQUEST_ERRORS:
            return GetSmsRefused(what, number, _error_text(answer[0]))
    return None


def parse_send_answer(answer: Any, count: int) -> list[MessageAnswer]:
    """One `MessageAnswer` per message sent, in order.

    Raises `GetSmsRefused` for a whole-request error and `OutcomeUnknown` for an answer that
    cannot be matched to the messages (not an array of `count` objects): GetSMS may have acted.
    """
    refused = _whole_request_error("getsms send", answer)
    if refused is not None:
        raise refused
    if not isinstance(answer, list) or len(answer) != count or not all(isinstance(e, dict) for e in answer):
        shape = f"array of {len(answer)}" if isinstance(answer, list) else type(answer).__name__
        raise sms_http.OutcomeUnknown("getsms send", f"answer is a {shape}, expected an array of {count} objects")
    out = []
    for element in answer:
        number = _error_no(element)
        if number is None and _id(element.get("request_id")) is not None:
            out.append(MessageAnswer(True, _id(element["request_id"]), _id(element.get("message_id"))))
        elif number is None:  # neither accepted (no request_id) nor refused: cannot tell
            raise sms_http.OutcomeUnknown("getsms send", "an element has neither request_id nor error")
        else:
            out.append(MessageAnswer(False, error_no=number, error_text=_error_text(element)))
    return out


async def _post(
    http: httpx2.AsyncClient,
    what: str,
    url: str,
    *,
    login: str,
    password: str,
    data: list[dict[str, Any]],
    nickname: str | None = None,
    timeout_seconds: float,
) -> Any:
    form = {"login": login, "password": password, "data": orjson.dumps(data).decode()}
    if nickname:
        form["nickname"] = nickname
    response = await sms_http.call(
        http, what, "POST", url, timeout_seconds=timeout_seconds, secrets=(login, password), data=form
    )
    try:
        return response.json()
    except ValueError:
        raise sms_http.OutcomeUnknown(what, f"HTTP {response.status_code} with a non-JSON answer") from None


async def send_messages(
    http: httpx2.AsyncClient,
    url: str,
    *,
    login: str,
    password: str,
    nickname: str | None,
    messages: Sequence[tuple[str, str]],
    timeout_seconds: float,
) -> list[MessageAnswer]:
    """POST `[(phone, text), ...]` (≤ MAX_BATCH) to `url` as configured; one answer per message.

    Raises `integrations.sms.http` errors (NotSent / OutcomeUnknown / ProviderHTTPError) and
    `GetSmsRefused`.
    """
    assert len(messages) <= MAX_BATCH, f"GetSMS takes at most {MAX_BATCH} messages per call"
    answer = await _post(
        http,
        "getsms send",
        url,
        login=login,
        password=password,
        nickname=nickname,
        data=[{"phone": phone, "text": text} for phone, text in messages],
        timeout_seconds=timeout_seconds,
    )
    return parse_send_answer(answer, len(messages))


# Only "delivered" is documented (shared/docs/providers.md); failure names are matched leniently
# (any case) so that a final failure ends the polling; any other name is polled again.
FINAL_STATUSES = frozenset({"delivered", "undelivered", "undeliverable", "expired", "rejected", "failed"})


def is_final(state: str) -> bool:
    return state.strip().lower() in FINAL_STATUSES


def status_url(base_url: str) -> str:
    return f"{base_url}status/"


def parse_status_answer(answer: Any) -> list[dict[str, Any]]:
    """Status rows (`request_id`, `status`, ...); rows answering error 400 (unknown request_id)
    are dropped. Raises `GetSmsRefused` for a whole-request error."""
    refused = _whole_request_error("getsms status", answer)
    if refused is not None:
        raise refused
    if not isinstance(answer, list):
        raise sms_http.OutcomeUnknown("getsms status", f"answer is a {type(answer).__name__}, expected an array")
    return [e for e in answer if isinstance(e, dict) and _error_no(e) is None and _id(e.get("request_id"))]


async def query_status(
    http: httpx2.AsyncClient,
    base_url: str,
    *,
    login: str,
    password: str,
    request_ids: Sequence[str],
    timeout_seconds: float,
) -> list[dict[str, Any]]:
    answer = await _post(
        http,
        "getsms status",
        status_url(base_url),
        login=login,
        password=password,
        data=[{"request_id": str(r)} for r in request_ids],
        timeout_seconds=timeout_seconds,
    )
    return parse_status_answer(answer)


async def check_credentials(
    http: httpx2.AsyncClient, base_url: str, *, login: str, password: str, timeout_seconds: float
) -> None:
    """Raise `GetSmsRefused` when GetSMS refuses these credentials; sends no SMS.

    Asks the status of request_id "0", which no message has: GetSMS checks the credentials
    first (100 empty, 101 wrong, 102 blocked) and otherwise answers that element with 400.
    """
    await query_status(
        http, base_url, login=login, password=password, request_ids=["0"], timeout_seconds=timeout_seconds
    )
