"""A fake REGOS over real HTTP: OAuth token endpoint plus the methods the integrations use.

    with FakeRegos() as fake:                      # or fake = FakeRegos().start(); fake.stop()
        settings = Settings(environment="test", redis_url=redis_url, **fake.settings_kwargs())
        fake.add_connected_integration(cid, "regos_telegram_notifier", settings={"BOT_TOKEN": "x"})
        fake.add_cheque(uuid="c1", amount=1000, session="s1")
        ... RegosAPI(cid, settings=settings) ...
        assert fake.token_requests == 1

Endpoints (strict: refuses what REGOS refuses; each behaviour cites its source where it is coded)
- `POST /oauth/token`: form-encoded and labelled `application/x-www-form-urlencoded`, fields
  `grant_type=client_credentials`, `client_id`, `client_secret` → `{"access_token": "tok-<n>",
  "token_type": "Bearer", "expires_in": fake.token_expires_in}`. Another Content-Type or a missing
  grant_type → 400 `invalid_request`; another grant type → 400 `unsupported_grant_type`; wrong
  client credentials → 401 `invalid_client` (RFC 6749 §5.2).
- `POST /gateway/out/{cid}/v1/{Area}/{Verb}` exactly (any other path or HTTP method → 404). Needs
  `Authorization: Bearer <a token this fake issued>` (401 otherwise) and a JSON body labelled
  `Content-Type: application/json` (415 otherwise). Unknown method names answer in-band
  `{"ok": false, "result": {"error": 404, "description": "Method X not found"}}` with HTTP 200;
  request fields are checked per method (unknown field, missing required field, wrong type →
  in-band error 400). Lists honour `limit` (default 100) and `offset`, carry `total` and, while
  rows remain, `next_offset`. `ConnectedIntegrationSetting/Edit` answers `result: null`.

Extending (e.g. tests/fakes/regos_edo.py): `FakeRegos.register_method("DocInvoice/Get", handler)`
with `handler(fake, cid, body) -> result`. The handler runs with `fake.lock` held; it validates
the body with `check_object(method, body, {"field": type, "ids": [int]}, required=(...))`, returns
the `result` (any JSON value; `None` → `"result": null`) or `fake.page(rows, body)` for a list,
and raises `InBandError(code, description)` for an `{"ok": false, ...}` answer. Keep per-fake
state in attributes the handler sets up itself (`fake.__dict__.setdefault("invoices", {})`).

State (plain dicts, guard with `fake.lock` when mutating directly): `connected_integrations`
(cid → row), `settings` (cid → {key: value}), `cheques` (uuid → row), `sessions` (uuid → row),
`operating_cash` (id → row). Helpers: `add_connected_integration`, `add_cheque`, `add_session`,
`add_operating_cash`, `revoke_tokens()` (every issued token answers 401 from now on),
`token_requests`, `api_calls(method)`. Faults: FakeServer's `fail_next(times, status, body,
path_contains=..., headers={"Retry-After": "2"}, delay=...)`; `calls(path_contains)`.

Standalone: `python -m tests.fakes.regos --port 8090 [--seed]`.
"""

from __future__ import annotations

import itertools
import re
import socket
import time
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from tests.fakes.base import FakeServer, Recorded, Reply

GATEWAY_PREFIX = "/gateway/out/"
# shared/docs/regos-contract.md §1: POST {base}/gateway/out/{cid}/v1/{Method}, Method = "Area/Verb".
GATEWAY_PATH = re.compile(r"/gateway/out/(?P<cid>[A-Za-z0-9]{1,64})/v1/(?P<method>[A-Za-z]+/[A-Za-z]+)")
TOKEN_PATH = "/oauth/token"
FORM = "application/x-www-form-urlencoded"
BAD_REQUEST = 400

# A field's accepted JSON type: str, int, float, bool, dict, or [item type] for an array.
FieldType = Any


class InBandError(Exception):
    """Raised by a method handler: REGOS answers `{"ok": false, "result": {"error", "description"}}`."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description


@dataclass
class Page:
    """A list method's answer: `result` rows plus `total` and, while rows remain, `next_offset`."""

    rows: list[Any]
    total: int
    next_offset: int | None


MethodHandler = Callable[["FakeRegos", str, Any], Any]


class FakeRegos(FakeServer):
    # REGOS method name → handler; extend with `FakeRegos.register_method(name, handler)`.
    methods: ClassVar[dict[str, MethodHandler]] = {}

    def __init__(
        self,
        latency: float = 0.0,
        port: int = 0,
        *,
        client_id: str = "gateway",
        client_secret: str = "gateway-secret",
        token_expires_in: int = 3600,
    ) -> None:
        super().__init__(latency=latency, port=port)
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_expires_in = token_expires_in
        self.token_requests = 0
        self.valid_tokens: set[str] = set()
        self._token_seq = itertools.count(1)
        self.connected_integrations: dict[str, dict[str, Any]] = {}
        self.settings: dict[str, dict[str, str]] = {}
        self.cheques: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.operating_cash: dict[int, dict[str, Any]] = {}

    def start(self) -> FakeRegos:
        super().start()
        assert self._httpd is not None
        accept = self._httpd.get_request

        # http.server sends headers and body as two segments; without TCP_NODELAY, Nagle plus the
        # client's delayed ACK adds ~40 ms to every call, which would swamp timing tests and benches.
        def get_request() -> tuple[socket.socket, Any]:
            sock, addr = accept()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock, addr

        self._httpd.get_request = get_request  # type: ignore[method-assign]
        return self

    def __enter__(self) -> FakeRegos:
        return self.start()

    # --- configuration helpers -----------------------------------------------------------
    def settings_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `Settings(...)` pointing the SDK at this fake."""
        return {
            "regos_integration_url": self.url,
            "regos_oauth_token_url": self.url + "/oauth/token",
            "regos_oauth_client_id": self.client_id,
            "regos_oauth_client_secret": self.client_secret,
        }

    def add_connected_integration(
        self,
        cid: str,
        key: str,
        is_active: bool = True,
        settings: dict[str, str] | None = None,
        *,
        name: str | None = None,
        webhooks: list[str] | None = None,
        omit: tuple[str, ...] = (),
    ) -> None:
        """`omit`: fields left out of the row, as REGOS may (shared/docs/regos-contract.md §1)."""
        with self.lock:
            row = {
                "connected_integration_id": cid,
                "key": key,
                "is_active": is_active,
                "name": name or key,
                "webhooks": webhooks or [],
            }
            self.connected_integrations[cid] = {k: v for k, v in row.items() if k not in omit}
            self.settings[cid] = dict(settings or {})

    def add_cheque(
        self,
        uuid: str | None = None,
        *,
        amount: float = 1000.0,
        session: str | None = None,
        date: int | None = None,
        code: str | None = None,
        is_return: bool = False,
        # REGOS API reference (DocCheque): status is a name, Opened/Paying/Closed/Delayed/
        # DelayedPayment/Canceled.
        status: str = "Closed",
        **extra: Any,
    ) -> dict[str, Any]:
        with self.lock:
            uuid = uuid or str(uuidlib.uuid4())
            row = {
                "uuid": uuid,
                "date": date if date is not None else int(time.time()),
                "code": code or f"CH-{len(self.cheques) + 1}",
                "status": status,
                "session": session,
                "is_return": is_return,
                "amount": amount,
                "last_update": int(time.time()),
                **extra,
            }
            self.cheques[uuid] = row
            return row

    def add_session(
        self,
        uuid: str | None = None,
        *,
        operating_cash_id: int = 1,
        start_amount: float = 0.0,
        closed: bool = False,
        close_amount: float | None = None,
        code: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        with self.lock:
            uuid = uuid or str(uuidlib.uuid4())
            now = int(time.time())
            row = {
                "uuid": uuid,
                "code": code or f"S-{len(self.sessions) + 1}",
                "operating_cash_id": operating_cash_id,
                "start_date": now,
                "start_amount": start_amount,
                "close_date": now if closed else None,
                "close_amount": close_amount if closed else None,
                "closed": closed,
                **extra,
            }
            self.sessions[uuid] = row
            return row

    def add_operating_cash(
        self, id: int, *, stock_id: int = 1, stock_name: str = "Main stock", description: str | None = None
    ) -> dict[str, Any]:
        with self.lock:
            row = {
                "id": id,
                "stock": {"id": stock_id, "name": stock_name},
                "description": description,
                "virtual": False,
            }
            self.operating_cash[id] = row
            return row

    def revoke_tokens(self) -> None:
        """Every token issued so far is refused with 401 from now on."""
        with self.lock:
            self.valid_tokens.clear()

    def api_calls(self, method: str = "") -> list[Recorded]:
        """Recorded gateway calls (not token requests) whose method contains `method`."""
        return [r for r in self.calls(GATEWAY_PREFIX) if method in r.path]

    # --- HTTP ----------------------------------------------------------------------------
    @classmethod
    def register_method(cls, name: str, handler: MethodHandler) -> None:
        """Serve REGOS method `name` (exact, e.g. "DocInvoice/Get") with `handler(fake, cid, body)`.

        The handler runs with `fake.lock` held and returns the envelope's `result` (or a `Page`
        from `fake.page(rows, body)` for list methods); it raises `InBandError` for REGOS's
        `{"ok": false, ...}` answers. Registrations are global to the class, so a module that
        registers methods (e.g. tests/fakes/regos_edo.py) only has to be imported.
        """
        cls.methods[name] = handler

    def handle(self, request: Recorded) -> Reply:
        if request.path == TOKEN_PATH:
            return self._token(request)
        match = GATEWAY_PATH.fullmatch(request.path)
        # shared/docs/regos-contract.md §1: every call is POST /gateway/out/{cid}/v1/{Method}.
        if match is None or request.method != "POST":
            return Reply(404, {"detail": "not found"})
        cid, method = match["cid"], match["method"]
        auth = request.headers.get("authorization", "")
        with self.lock:
            authorised = auth.startswith("Bearer ") and auth[7:] in self.valid_tokens
        if not authorised:
            return Reply(401, {"error": "invalid_token"})
        handler = self.methods.get(method)
        if handler is None:
            return Reply(200, _error(404, f"Method {method} not found"))
        # https://docs.regos.uz/ru/api/integrations: every POST needs Content-Type: application/json.
        if _media_type(request.headers.get("content-type")) != "application/json":
            return Reply(415, _error(415, "Content-Type must be application/json"))
        try:
            body = request.json()
        except ValueError:
            return Reply(400, _error(400, "Malformed JSON"))
        with self.lock:
            try:
                result = handler(self, cid, body)
            except InBandError as exc:
                # shared/docs/regos-contract.md §1: logical errors come in-band with HTTP 200.
                return Reply(200, _error(exc.code, exc.description))
        if isinstance(result, Page):
            envelope: dict[str, Any] = {"ok": True, "result": result.rows, "total": result.total}
            if result.next_offset is not None:
                envelope["next_offset"] = result.next_offset
            return Reply(200, envelope)
        return Reply(200, {"ok": True, "result": result})

    def _token(self, request: Recorded) -> Reply:
        # RFC 6749 §4.4.2 / §2.3.1 and shared/docs/regos-contract.md §1: client credentials come
        # form-encoded and labelled so; §5.2: a malformed request is 400 invalid_request, a wrong
        # grant_type 400 unsupported_grant_type, unknown client credentials 401 invalid_client.
        with self.lock:
            self.token_requests += 1
        if request.method != "POST":
            return Reply(405, {"error": "invalid_request"})
        if _media_type(request.headers.get("content-type")) != FORM:
            return Reply(400, {"error": "invalid_request", "error_description": f"Content-Type must be {FORM}"})
        form = request.form()
        if "grant_type" not in form:
            return Reply(400, {"error": "invalid_request", "error_description": "grant_type is missing"})
        if form["grant_type"] != "client_credentials":
            return Reply(400, {"error": "unsupported_grant_type"})
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return Reply(401, {"error": "invalid_client"})
        with self.lock:
            token = f"tok-{next(self._token_seq)}"
            self.valid_tokens.add(token)
        return Reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_expires_in})

    # --- helpers for method handlers (called with self.lock held) --------------------------
    @staticmethod
    def page(rows: list[Any], body: dict[str, Any]) -> Page:
        """One page of `rows` per the request's `limit` (default 100) and `offset`.

        shared/docs/regos-contract.md §1: lists page with limit/offset and carry `next_offset`
        while more rows remain, plus `total`.
        """
        offset = int(body.get("offset") or 0)
        limit = int(body.get("limit") or 100)
        more = offset + limit < len(rows)
        return Page(rows[offset : offset + limit], len(rows), offset + limit if more else None)


# --- request checking ---------------------------------------------------------------------------


def check_object(
    method: str, body: Any, fields: dict[str, FieldType], required: tuple[str, ...] = ()
) -> dict[str, Any]:
    """`body` as a JSON object with only `fields` (name → accepted JSON types) and every `required`.

    Anything else is REGOS's in-band error (InBandError), as a request model that forbids
    unknown fields would see it: typos must not vanish silently.
    """
    if not isinstance(body, dict):
        raise InBandError(BAD_REQUEST, f"{method}: the body must be a JSON object")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise InBandError(BAD_REQUEST, f"{method}: unknown field(s) {', '.join(unknown)}")
    for name in required:
        if body.get(name) is None:
            raise InBandError(BAD_REQUEST, f"{method}: field {name} is required")
    for name, value in body.items():
        if value is not None and not _is_type(value, fields[name]):
            raise InBandError(BAD_REQUEST, f"{method}: field {name} has the wrong type")
    return body


def _is_type(value: Any, expected: FieldType) -> bool:
    if isinstance(expected, list):  # [item type]: a JSON array of that type
        return isinstance(value, list) and all(_is_type(v, expected[0]) for v in value)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, expected)


def _media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def _error(code: int, description: str) -> dict[str, Any]:
    return {"ok": False, "result": {"error": code, "description": description}}


# --- the methods the integrations use ----------------------------------------------------------

# Request fields per method: REGOS's public API reference (Swagger behind docs.regos.uz/ru/api; the
# field lists as generated from it in regos-software/py-integrations schemas/api/**). Every field
# is optional there unless stated; `sort_orders` is an array of {column, direction} objects.
LIST_FIELDS: dict[str, FieldType] = {"limit": int, "offset": int, "sort_orders": [dict]}


def _connected_integration_get(fake: FakeRegos, cid: str, body: Any) -> Page:
    body = check_object(
        "ConnectedIntegration/Get",
        body,
        {
            "connected_integration_ids": [str],
            "keys": [str],
            "include_name": bool,
            "include_schedule": bool,
            "is_public": bool,
            "user_id": int,
            "handler": str,
            "handlers": [str],
            **LIST_FIELDS,
        },
    )
    ids = body.get("connected_integration_ids") or [cid]
    rows = []
    # An unknown id is simply absent from the result (shared/docs/regos-contract.md §1 table).
    for row in (fake.connected_integrations[i] for i in ids if i in fake.connected_integrations):
        row = dict(row)
        if not body.get("include_name"):
            row.pop("name", None)
        rows.append(row)
    return fake.page(rows, body)


def _setting_get(fake: FakeRegos, cid: str, body: Any) -> Page:
    body = check_object(
        "ConnectedIntegrationSetting/Get",
        body,
        # integration_key is the deprecated alternative; connected_integration_id wins when both come.
        {"connected_integration_id": str, "integration_key": str, "firm_id": int, **LIST_FIELDS},
    )
    target = body.get("connected_integration_id") or cid
    rows = [{"key": k, "value": v, "last_update": 0} for k, v in fake.settings.get(target, {}).items()]
    return fake.page(rows, body)


def _setting_edit(fake: FakeRegos, cid: str, body: Any) -> None:
    method = "ConnectedIntegrationSetting/Edit"
    if not isinstance(body, list):
        raise InBandError(BAD_REQUEST, f"{method}: the body must be a JSON array of settings")
    items = [
        check_object(
            method,
            item,
            {"key": str, "value": str, "connected_integration_id": str, "integration_key": str, "firm_id": int},
            ("key", "value"),
        )
        for item in body
    ]
    for item in items:
        current = fake.settings.setdefault(item.get("connected_integration_id") or cid, {})
        for existing in [k for k in current if k.casefold() == item["key"].casefold()]:
            del current[existing]
        current[item["key"]] = item["value"]
    # https://docs.regos.uz ConnectedIntegrationSetting/Edit: no output; the example answer is
    # {"ok": true, "result": null} (shared/docs/regos-contract.md §1 table).
    return None


def _cheque_get(fake: FakeRegos, cid: str, body: Any) -> Page:
    body = check_object(
        "DocCheque/Get",
        body,
        {
            "uuids": [str],
            "code": str,
            "cashier_ids": [int],
            "seller_ids": [int],
            "card_ids": [int],
            "customer_ids": [int],
            "session_uuid": str,
            "status": str,
            "is_return": bool,
            "is_fiscal": bool,
            "start_date": int,
            "end_date": int,
            **LIST_FIELDS,
        },
    )
    rows = list(fake.cheques.values())
    if body.get("uuids"):
        wanted = set(body["uuids"])
        rows = [r for r in rows if r["uuid"] in wanted]
    if body.get("session_uuid"):
        rows = [r for r in rows if r.get("session") == body["session_uuid"]]
    if body.get("start_date") is not None:
        rows = [r for r in rows if r["date"] >= body["start_date"]]
    if body.get("end_date") is not None:
        rows = [r for r in rows if r["date"] <= body["end_date"]]
    return fake.page(rows, body)


def _session_get(fake: FakeRegos, cid: str, body: Any) -> Page:
    body = check_object(
        "DocCashSession/Get",
        body,
        {
            "uuids": [str],
            "operating_cash_ids": [int],
            "start_date": int,
            "end_date": int,
            "is_agregated": bool,
            "is_close": bool,
            "open_user_id": int,
            "close_user_id": int,
            **LIST_FIELDS,
        },
    )
    rows = list(fake.sessions.values())
    if body.get("uuids"):
        wanted = set(body["uuids"])
        rows = [r for r in rows if r["uuid"] in wanted]
    if body.get("operating_cash_ids"):
        cash_ids = set(body["operating_cash_ids"])
        rows = [r for r in rows if r["operating_cash_id"] in cash_ids]
    return fake.page(rows, body)


def _operating_cash_get(fake: FakeRegos, cid: str, body: Any) -> Page:
    body = check_object(
        "OperatingCash/Get",
        body,
        {
            "ids": [int],
            "firm_ids": [int],
            "stock_ids": [int],
            "price_type_ids": [int],
            "is_virtual": bool,
            "accepted_user_id": int,
            "search": str,
            **LIST_FIELDS,
        },
    )
    rows = list(fake.operating_cash.values())
    if body.get("ids"):
        ids = set(body["ids"])
        rows = [r for r in rows if r["id"] in ids]
    if body.get("stock_ids"):
        stock_ids = set(body["stock_ids"])
        rows = [r for r in rows if r["stock"]["id"] in stock_ids]
    return fake.page(rows, body)


FakeRegos.register_method("ConnectedIntegration/Get", _connected_integration_get)
FakeRegos.register_method("ConnectedIntegrationSetting/Get", _setting_get)
FakeRegos.register_method("ConnectedIntegrationSetting/Edit", _setting_edit)
FakeRegos.register_method("DocCheque/Get", _cheque_get)
FakeRegos.register_method("DocCashSession/Get", _session_get)
FakeRegos.register_method("OperatingCash/Get", _operating_cash_get)


def main() -> None:
    """Run the fake in the foreground: `python -m tests.fakes.regos --port 8090 [--seed]`."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--seed", action="store_true", help="add one connected integration, cash, session, cheque")
    args = parser.parse_args()
    fake = FakeRegos(latency=args.latency, port=args.port).start()
    if args.seed:
        cid = "0" * 32
        fake.add_connected_integration(cid, "regos_telegram_notifier", settings={"BOT_TOKEN": "123:abc"})
        fake.add_operating_cash(1)
        session = fake.add_session(operating_cash_id=1)
        fake.add_cheque(session=session["uuid"])
    print(f"fake REGOS at {fake.url} (client_id={fake.client_id!r}, client_secret={fake.client_secret!r})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
