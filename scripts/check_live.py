"""`make check-live`: prove the real REGOS and providers accept this gateway's credentials.

Run it before going live and after changing credentials. Every call is one a customer never
sees: a REGOS token and `ConnectedIntegration/Get`, an Eskiz login and balance, a GetSMS status
query for a request id that does not exist, Telegram `getMe` and `getWebhookInfo`. Nothing is
sent, nothing is changed. Services whose credentials are not in the environment are skipped.

Credentials come from the environment (never from REGOS): the gateway's own
`REGOS_OAUTH_CLIENT_ID`/`REGOS_OAUTH_CLIENT_SECRET` with `CHECK_REGOS_CONNECTED_INTEGRATION_ID`,
`CHECK_ESKIZ_EMAIL`/`CHECK_ESKIZ_PASSWORD`, `CHECK_GETSMS_LOGIN`/`CHECK_GETSMS_PASSWORD`,
`CHECK_TELEGRAM_BOT_TOKEN`. Base URLs come from the gateway's `Settings`, so the check talks to
exactly what the workers talk to. Output: one line per service; secrets never appear in it.
Exit status 1 when any check failed. The request and answer shapes are in docs/contracts.md.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2
import orjson
from pydantic import ValidationError

from kit.redaction import redacted_line
from settings import Settings

MAX_DETAIL = 300
# A request id GetSMS cannot know: its `status/` then answers error 400 after checking the
# credentials, and error 101 before it when they are wrong (shared/docs/providers.md, GetSMS).
BOGUS_GETSMS_REQUEST_ID = "0"
GETSMS_BAD_REQUEST_ID = 400


@dataclass(frozen=True)
class Outcome:
    service: str
    state: str  # "ok", "skipped" or "FAILED"
    detail: str

    def line(self) -> str:
        if self.state == "FAILED":
            return f"{self.service}: FAILED: {self.detail}"
        return f"{self.service}: {self.state} ({self.detail})"


class CheckFailed(Exception):
    """What the service said, already free of secrets once `redacted_line` ran over it."""


def _json(response: httpx2.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None


def _said(response: httpx2.Response) -> str:
    """The service's own words for a refusal: its message field, else the raw body."""
    body = _json(response)
    if isinstance(body, dict):
        for name in ("description", "message", "error_description", "error", "detail"):
            if body.get(name):
                value = body[name]
                return value if isinstance(value, str) else orjson.dumps(value).decode()
    return response.text or response.reason_phrase


async def _request(http: httpx2.AsyncClient, what: str, method: str, url: str, **kwargs: Any) -> httpx2.Response:
    try:
        return await http.request(method, url, **kwargs)
    except httpx2.HTTPError as exc:
        # The exception text may carry the URL, and Telegram's URL holds the bot token.
        raise CheckFailed(f"{what}: no answer from {httpx2.URL(url).host} ({type(exc).__name__})") from None


# --- REGOS -------------------------------------------------------------------------------------


async def check_regos(http: httpx2.AsyncClient, settings: Settings, cid: str) -> str:
    secret = settings.regos_oauth_client_secret.get_secret_value()
    # OAuth2 client credentials: a form body labelled as one (RFC 6749 §4.4.2).
    response = await _request(
        http,
        "token",
        "POST",
        settings.regos_oauth_token_url,
        data={"grant_type": "client_credentials", "client_id": settings.regos_oauth_client_id, "client_secret": secret},
        timeout=settings.regos_timeout_seconds,
    )
    body = _json(response)
    token = body.get("access_token") if isinstance(body, dict) else None
    if response.status_code != 200 or not isinstance(token, str) or not token:
        raise CheckFailed(f"token endpoint: HTTP {response.status_code}: {_said(response)}")
    url = f"{settings.regos_integration_url.rstrip('/')}/gateway/out/{cid}/v1/ConnectedIntegration/Get"
    response = await _request(
        http,
        "ConnectedIntegration/Get",
        "POST",
        url,
        json={"connected_integration_ids": [cid]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=settings.regos_timeout_seconds,
    )
    envelope = _json(response)
    if not isinstance(envelope, dict) or envelope.get("ok") is not True:
        error = envelope.get("result") if isinstance(envelope, dict) else None
        if isinstance(error, dict):
            said = f"error {error.get('error')}: {error.get('description', '')}"
        else:
            said = _said(response)
        raise CheckFailed(f"ConnectedIntegration/Get: HTTP {response.status_code}: {said}")
    rows = envelope.get("result")
    row = (
        next(
            (r for r in rows if isinstance(r, dict) and str(r.get("connected_integration_id", cid)) == cid),
            None,
        )
        if isinstance(rows, list)
        else None
    )
    if row is None:
        raise CheckFailed(f"ConnectedIntegration/Get: REGOS returned no connected integration {cid}")
    # Every field of the row may be absent (shared/docs/regos-contract.md §1): say what came.
    return f"token issued; connected integration {cid}: key={row.get('key', '?')} is_active={row.get('is_active', '?')}"


# --- Eskiz -------------------------------------------------------------------------------------


async def check_eskiz(http: httpx2.AsyncClient, settings: Settings, email: str, password: str) -> str:
    base = settings.eskiz_base_url.rstrip("/")
    timeout = settings.provider_timeout_seconds
    # Form fields, as the gateway's Eskiz client sends them (iota-uz/eskiz api/openapi.yaml, /api/auth/login).
    response = await _request(
        http, "login", "POST", base + "/auth/login", data={"email": email, "password": password}, timeout=timeout
    )
    body = _json(response)
    data = body.get("data") if isinstance(body, dict) else None
    token = data.get("token") if isinstance(data, dict) else None
    if response.status_code != 200 or not isinstance(token, str) or not token:
        raise CheckFailed(f"login: HTTP {response.status_code}: {_said(response)}")
    # GET /api/user/get-limit → {"data": {"balance": <number>}, "status": "success"} (same source).
    response = await _request(
        http,
        "get-limit",
        "GET",
        base + "/user/get-limit",
        headers={"Authorization": f"Bearer {token}"},
        timeout=timeout,
    )
    body = _json(response)
    data = body.get("data") if isinstance(body, dict) else None
    balance = data.get("balance") if isinstance(data, dict) else None
    if response.status_code != 200 or balance is None:
        raise CheckFailed(f"get-limit: HTTP {response.status_code}: {_said(response)}")
    try:
        empty = float(balance) <= 0
    except (TypeError, ValueError):
        raise CheckFailed(f"get-limit: balance is not a number: {balance!r}") from None
    if empty:
        raise CheckFailed(f"login accepted, but the balance is {balance}: Eskiz will refuse every SMS")
    return f"login accepted; balance {balance}"


# --- GetSMS ------------------------------------------------------------------------------------


async def check_getsms(http: httpx2.AsyncClient, settings: Settings, login: str, password: str) -> str:
    # The configured address exactly as given, plus `status/` (shared/docs/providers.md, GetSMS).
    url = f"{settings.getsms_base_url}status/"
    response = await _request(
        http,
        "status/",
        "POST",
        url,
        data={
            "login": login,
            "password": password,
            "data": orjson.dumps([{"request_id": BOGUS_GETSMS_REQUEST_ID}]).decode(),
        },
        timeout=settings.provider_timeout_seconds,
    )
    if response.status_code != 200:
        raise CheckFailed(f"status/: HTTP {response.status_code}: {_said(response)}")
    answer = _json(response)
    # One element per request id; whole-request errors come as a one-element array.
    first = answer[0] if isinstance(answer, list) and answer else answer
    if not isinstance(first, dict):
        raise CheckFailed(f"status/: unexpected answer: {response.text}")
    code = first.get("error_no")
    if first.get("error") in (None, 0, "0", False) and code is None:
        return "credentials accepted (status/ answered a row)"
    try:
        number = int(code)
    except (TypeError, ValueError):
        number = None
    if number == GETSMS_BAD_REQUEST_ID:
        return "credentials accepted (status/ refused the made-up request_id with error 400, as expected)"
    said = first.get("error_text") or first.get("text") or "no text"
    raise CheckFailed(f"status/: GetSMS error {code}: {said}")


# --- Telegram ----------------------------------------------------------------------------------


async def _bot_call(http: httpx2.AsyncClient, settings: Settings, token: str, method: str) -> Any:
    response = await _request(
        http,
        method,
        "POST",
        f"{settings.telegram_api_base_url.rstrip('/')}/bot{token}/{method}",
        json={},
        timeout=settings.provider_timeout_seconds,
    )
    body = _json(response)
    if isinstance(body, dict) and body.get("ok") is True:
        return body.get("result")
    if isinstance(body, dict):
        raise CheckFailed(f"{method}: error {body.get('error_code', response.status_code)}: {body.get('description')}")
    raise CheckFailed(f"{method}: HTTP {response.status_code} with a non-JSON body")


async def check_telegram(http: httpx2.AsyncClient, settings: Settings, token: str) -> str:
    me = await _bot_call(http, settings, token, "getMe")
    info = await _bot_call(http, settings, token, "getWebhookInfo")
    me = me if isinstance(me, dict) else {}
    info = info if isinstance(info, dict) else {}
    parts = [f"bot @{me.get('username', '?')}"]
    parts.append(f"webhook {info.get('url') or 'not set'}, {info.get('pending_update_count', 0)} pending updates")
    if info.get("last_error_message"):
        parts.append(f"last delivery error: {info['last_error_message']}")
    return "; ".join(parts)


# --- running -----------------------------------------------------------------------------------

Check = Callable[[], Awaitable[str]]


def plan(
    http: httpx2.AsyncClient, settings: Settings, env: Mapping[str, str]
) -> list[tuple[str, list[str], Check | str]]:
    """(service, secrets to redact, the check or why it is skipped) in output order."""

    def need(*names: str) -> str | None:
        return next((f"no {name}" for name in names if not env.get(name)), None)

    regos_secret = settings.regos_oauth_client_secret.get_secret_value()
    cid = env.get("CHECK_REGOS_CONNECTED_INTEGRATION_ID", "")
    eskiz = env.get("CHECK_ESKIZ_EMAIL", ""), env.get("CHECK_ESKIZ_PASSWORD", "")
    getsms = env.get("CHECK_GETSMS_LOGIN", ""), env.get("CHECK_GETSMS_PASSWORD", "")
    bot = env.get("CHECK_TELEGRAM_BOT_TOKEN", "")

    regos_missing = need("CHECK_REGOS_CONNECTED_INTEGRATION_ID") or (
        None
        if settings.regos_oauth_client_id and regos_secret
        else "no REGOS_OAUTH_CLIENT_ID/REGOS_OAUTH_CLIENT_SECRET"
    )
    getsms_missing = need("CHECK_GETSMS_LOGIN", "CHECK_GETSMS_PASSWORD") or (
        None if settings.getsms_base_url else "no GETSMS_BASE_URL"
    )
    return [
        ("regos", [regos_secret], regos_missing or (lambda: check_regos(http, settings, cid))),
        (
            "eskiz",
            list(eskiz),
            need("CHECK_ESKIZ_EMAIL", "CHECK_ESKIZ_PASSWORD") or (lambda: check_eskiz(http, settings, *eskiz)),
        ),
        ("getsms", list(getsms), getsms_missing or (lambda: check_getsms(http, settings, *getsms))),
        ("telegram", [bot], need("CHECK_TELEGRAM_BOT_TOKEN") or (lambda: check_telegram(http, settings, bot))),
    ]


async def _run_one(service: str, secrets: list[str], check: Check | str) -> Outcome:
    if isinstance(check, str):
        return Outcome(service, "skipped", check)
    try:
        return Outcome(service, "ok", redacted_line(await check(), secrets, limit=MAX_DETAIL))
    except CheckFailed as exc:
        return Outcome(service, "FAILED", redacted_line(str(exc), secrets, limit=MAX_DETAIL))


async def run(settings: Settings, env: Mapping[str, str]) -> list[Outcome]:
    # A client without default headers: each request carries the Content-Type of its own body.
    async with httpx2.AsyncClient() as http:
        return list(await asyncio.gather(*(_run_one(*step) for step in plan(http, settings, env))))


def main(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"check-live: the gateway settings are invalid: {exc.errors()[0].get('msg')}")
        return 1
    outcomes = asyncio.run(run(settings, env))
    for outcome in outcomes:
        print(outcome.line())
    return 1 if any(o.state == "FAILED" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
