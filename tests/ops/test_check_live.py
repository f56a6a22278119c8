"""`python -m scripts.check_live` (`make check-live`) against small strict fakes of each service.

The script runs as operators run it: a subprocess whose environment holds the credentials and
the base URLs. The fakes below are deliberately minimal and private to this file (the suite's
shared fakes are rebuilt elsewhere); each refuses what its service refuses on these few calls.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.base import FakeServer, Recorded, Reply

ROOT = Path(__file__).resolve().parents[2]
CID = "11v5929ba236415hb31346ede021bdi4"  # the id shape of docs.regos.uz's quick start
REGOS_CLIENT_ID, REGOS_SECRET = "gateway-client", "regos-client-secret-value"
ESKIZ_EMAIL, ESKIZ_PASSWORD = "shop@example.uz", "eskiz-password-value"
GETSMS_LOGIN, GETSMS_PASSWORD = "getsms-login", "getsms-password-value"
BOT_TOKEN = "123456:AAE-bot-token-value"
FORM = "application/x-www-form-urlencoded"


def _content_type(request: Recorded) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip()


class FakeRegosAuth(FakeServer):
    """OAuth2 token endpoint and `ConnectedIntegration/Get` (shared/docs/regos-contract.md §1)."""

    TOKEN = "regos-access-token"

    def __init__(self, known_cids: tuple[str, ...] = (CID,)) -> None:
        super().__init__()
        self.known = known_cids

    def handle(self, request: Recorded) -> Reply:
        if request.path == "/oauth/token":
            # RFC 6749 §4.4.2: the body is application/x-www-form-urlencoded; a server parses
            # by Content-Type, so a form body labelled JSON is an invalid request.
            if _content_type(request) != FORM:
                return Reply(400, {"error": "invalid_request", "error_description": "unsupported content type"})
            form = request.form()
            if form.get("grant_type") != "client_credentials":
                return Reply(400, {"error": "unsupported_grant_type"})
            if (form.get("client_id"), form.get("client_secret")) != (REGOS_CLIENT_ID, REGOS_SECRET):
                return Reply(401, {"error": "invalid_client", "error_description": "Client authentication failed"})
            return Reply(200, {"access_token": self.TOKEN, "token_type": "Bearer", "expires_in": 3600})
        prefix, method = "/gateway/out/", "/v1/ConnectedIntegration/Get"
        if request.path.startswith(prefix) and request.path.endswith(method):
            if request.headers.get("authorization") != f"Bearer {self.TOKEN}":
                return Reply(401, {"ok": False, "result": {"error": 401, "description": "Unauthorized"}})
            if _content_type(request) != "application/json":
                return Reply(200, {"ok": False, "result": {"error": 400, "description": "body is not JSON"}})
            ids = request.json().get("connected_integration_ids") or []
            # Unknown ids are simply absent from `result` (regos-contract.md §1, ConnectedIntegration/Get).
            rows = [{"connected_integration_id": i, "key": "getsms", "is_active": True} for i in ids if i in self.known]
            return Reply(200, {"ok": True, "result": rows})
        return Reply(404, {"message": "Not Found"})


class FakeEskizAccount(FakeServer):
    """/api/auth/login and /api/user/get-limit (iota-uz/eskiz api/openapi.yaml)."""

    TOKEN = "eskiz-jwt"

    def __init__(self, balance: float = 25_000) -> None:
        super().__init__()
        self.balance = balance

    def handle(self, request: Recorded) -> Reply:
        if request.path == "/api/auth/login" and request.method == "POST":
            if _content_type(request) not in (FORM, "multipart/form-data"):
                return Reply(422, {"message": "The email field is required."})
            form = request.form()
            if (form.get("email"), form.get("password")) != (ESKIZ_EMAIL, ESKIZ_PASSWORD):
                return Reply(401, {"message": "Invalid credentials"})
            return Reply(200, {"message": "token_generated", "data": {"token": self.TOKEN}, "token_type": "bearer"})
        if request.path == "/api/user/get-limit" and request.method == "GET":
            if request.headers.get("authorization") != f"Bearer {self.TOKEN}":
                return Reply(401, {"message": "Unauthenticated."})
            return Reply(200, {"data": {"balance": self.balance}, "status": "success"})
        return Reply(404, {"message": "Not Found"})


class FakeGetSmsStatus(FakeServer):
    """`{GETSMS_BASE_URL}status/`: HTTP 200 and errors inside a JSON array (shared/docs/providers.md, GetSMS)."""

    PATH = "/smsgateway/status/"

    def handle(self, request: Recorded) -> Reply:
        if request.path != self.PATH or request.method != "POST":
            return Reply(404, b"<html>Not Found</html>", {"Content-Type": "text/html"})
        form = request.form() if _content_type(request) == FORM else {}
        if not form.get("login") or not form.get("password"):
            return Reply(200, [{"error": 1, "error_no": 100, "text": "Login or Password is empty"}])
        if (form["login"], form["password"]) != (GETSMS_LOGIN, GETSMS_PASSWORD):
            return Reply(200, [{"error": 1, "error_no": 101, "text": "Incorrect Login or Password"}])
        return Reply(200, [{"error": 1, "error_no": 400, "text": "Incorrect request_id"}])


class FakeBotApi(FakeServer):
    """getMe and getWebhookInfo (core.telegram.org/bots/api#making-requests, #getme, #getwebhookinfo)."""

    def handle(self, request: Recorded) -> Reply:
        token, _, method = request.path.removeprefix("/bot").partition("/")
        if not request.path.startswith("/bot") or method not in ("getMe", "getWebhookInfo"):
            return Reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        if token != BOT_TOKEN:
            return Reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        if method == "getMe":
            return Reply(200, {"ok": True, "result": {"id": 123456, "is_bot": True, "username": "shop_notify_bot"}})
        # A bot without a webhook: `url` is an empty string (#webhookinfo); optional fields absent.
        return Reply(
            200, {"ok": True, "result": {"url": "", "has_custom_certificate": False, "pending_update_count": 0}}
        )


@dataclass
class World:
    regos: FakeRegosAuth
    eskiz: FakeEskizAccount
    getsms: FakeGetSmsStatus
    telegram: FakeBotApi

    def env(self) -> dict[str, str]:
        return {
            "REGOS_OAUTH_TOKEN_URL": self.regos.url + "/oauth/token",
            "REGOS_INTEGRATION_URL": self.regos.url,
            "ESKIZ_BASE_URL": self.eskiz.url + "/api",
            "GETSMS_BASE_URL": self.getsms.url + "/smsgateway/",
            "TELEGRAM_API_BASE_URL": self.telegram.url,
        }


@pytest.fixture
def world() -> Iterator[World]:
    servers = World(FakeRegosAuth(), FakeEskizAccount(), FakeGetSmsStatus(), FakeBotApi())
    for server in vars(servers).values():
        server.start()
    yield servers
    for server in vars(servers).values():
        server.stop()


GOOD_CREDENTIALS = {
    "REGOS_OAUTH_CLIENT_ID": REGOS_CLIENT_ID,
    "REGOS_OAUTH_CLIENT_SECRET": REGOS_SECRET,
    "CHECK_REGOS_CONNECTED_INTEGRATION_ID": CID,
    "CHECK_ESKIZ_EMAIL": ESKIZ_EMAIL,
    "CHECK_ESKIZ_PASSWORD": ESKIZ_PASSWORD,
    "CHECK_GETSMS_LOGIN": GETSMS_LOGIN,
    "CHECK_GETSMS_PASSWORD": GETSMS_PASSWORD,
    "CHECK_TELEGRAM_BOT_TOKEN": BOT_TOKEN,
}
SECRETS = (REGOS_SECRET, ESKIZ_PASSWORD, GETSMS_PASSWORD, BOT_TOKEN, BOT_TOKEN.split(":")[1])


def check_live(env: dict[str, str]) -> tuple[int, dict[str, str]]:
    """Run the script like `make check-live`, with only `env` (no inherited credentials or proxies)."""
    result = subprocess.run(
        [sys.executable, "-m", "scripts.check_live"],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), "ENVIRONMENT": "test", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stderr == "", result.stderr
    for secret in SECRETS:
        assert secret not in result.stdout, "a secret reached the output"
    lines = dict(line.split(": ", 1) for line in result.stdout.strip().splitlines())
    assert list(lines) == ["regos", "eskiz", "getsms", "telegram"], result.stdout
    return result.returncode, lines


def test_every_service_ok(world: World) -> None:
    code, lines = check_live({**world.env(), **GOOD_CREDENTIALS})

    assert code == 0, lines
    assert lines["regos"] == f"ok (token issued; connected integration {CID}: key=getsms is_active=True)"
    assert lines["eskiz"] == "ok (login accepted; balance 25000)"
    assert lines["getsms"].startswith("ok (credentials accepted"), lines["getsms"]
    assert lines["telegram"] == "ok (bot @shop_notify_bot; webhook not set, 0 pending updates)"
    token_call = world.regos.calls("/oauth/token")[0]
    assert token_call.headers["content-type"] == FORM  # the form body is labelled as a form
    assert world.getsms.calls()[0].form()["data"] == '[{"request_id":"0"}]'
    # Nothing a customer could see: no send, no edit, no webhook change.
    paths = [r.path for server in vars(world).values() for r in server.requests]
    assert not any(word in p for p in paths for word in ("send", "Edit", "setWebhook", "deleteWebhook")), paths


def test_wrong_credentials_fail_with_the_services_own_words(world: World) -> None:
    wrong = {
        **GOOD_CREDENTIALS,
        "REGOS_OAUTH_CLIENT_SECRET": "wrong-regos-secret",
        "CHECK_ESKIZ_PASSWORD": "wrong-eskiz-password",
        "CHECK_GETSMS_PASSWORD": "wrong-getsms-password",
        "CHECK_TELEGRAM_BOT_TOKEN": "999:wrong-bot-token",
    }
    code, lines = check_live({**world.env(), **wrong})

    assert code == 1
    assert lines["regos"] == "FAILED: token endpoint: HTTP 401: Client authentication failed"
    assert lines["eskiz"] == "FAILED: login: HTTP 401: Invalid credentials"
    assert lines["getsms"] == "FAILED: status/: GetSMS error 101: Incorrect Login or Password"
    assert lines["telegram"] == "FAILED: getMe: error 401: Unauthorized"
    assert "wrong-" not in " ".join(lines.values())


def test_unknown_connected_integration_and_empty_balance_fail(world: World) -> None:
    world.eskiz.balance = 0
    code, lines = check_live(
        {**world.env(), **GOOD_CREDENTIALS, "CHECK_REGOS_CONNECTED_INTEGRATION_ID": "d0000000000000000000000000000009"}
    )

    assert code == 1
    assert lines["regos"] == (
        "FAILED: ConnectedIntegration/Get: REGOS returned no connected integration d0000000000000000000000000000009"
    )
    assert lines["eskiz"].startswith("FAILED: login accepted, but the balance is 0"), lines["eskiz"]
    assert lines["getsms"].startswith("ok"), lines["getsms"]


def test_unreachable_service_fails_without_leaking_the_url(world: World) -> None:
    env = {**world.env(), **GOOD_CREDENTIALS}
    world.telegram.stop()  # its port now refuses connections

    code, lines = check_live(env)

    assert code == 1
    assert lines["telegram"] == "FAILED: getMe: no answer from 127.0.0.1 (ConnectError)"


def test_services_without_credentials_are_skipped(world: World) -> None:
    code, lines = check_live({**world.env(), "CHECK_GETSMS_LOGIN": GETSMS_LOGIN})

    assert code == 0
    assert lines == {
        "regos": "skipped (no CHECK_REGOS_CONNECTED_INTEGRATION_ID)",
        "eskiz": "skipped (no CHECK_ESKIZ_EMAIL)",
        "getsms": "skipped (no CHECK_GETSMS_PASSWORD)",
        "telegram": "skipped (no CHECK_TELEGRAM_BOT_TOKEN)",
    }
    assert not any(server.requests for server in vars(world).values())
