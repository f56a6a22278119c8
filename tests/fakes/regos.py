"""A fake REGOS over real HTTP: OAuth token endpoint plus the methods the integrations use.

    with FakeRegos() as fake:                      # or fake = FakeRegos().start(); fake.stop()
        settings = Settings(environment="test", redis_url=redis_url, **fake.settings_kwargs())
        fake.add_connected_integration(cid, "regos_telegram_notifier", settings={"BOT_TOKEN": "x"})
        fake.add_cheque(uuid="c1", amount=1000, session="s1")
        ... RegosAPI(cid, settings=settings) ...
        assert fake.token_requests == 1

Endpoints
- `POST /oauth/token` (form `grant_type=client_credentials`, `client_id`, `client_secret`) →
  `{"access_token": "tok-<n>", "expires_in": fake.token_expires_in}`; wrong credentials → 401.
- `POST /gateway/out/{cid}/v1/{Area}/{Verb}` needs `Authorization: Bearer <a valid token>` (401
  otherwise). Methods: ConnectedIntegration/Get, ConnectedIntegrationSetting/Get and /Edit,
  DocCheque/Get, DocCashSession/Get, OperatingCash/Get. Lists honour `limit` (default 100) and
  `offset` and carry `next_offset` while rows remain, plus `total`. Unknown methods answer
  `{"ok": false, "result": {"error": 404, "description": "Method X not found"}}` with HTTP 200.

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
import socket
import time
import uuid as uuidlib
from typing import Any

from tests.fakes.base import FakeServer, Recorded, Reply

GATEWAY_PREFIX = "/gateway/out/"


class FakeRegos(FakeServer):
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
        self._methods = {
            "ConnectedIntegration/Get": self._connected_integration_get,
            "ConnectedIntegrationSetting/Get": self._setting_get,
            "ConnectedIntegrationSetting/Edit": self._setting_edit,
            "DocCheque/Get": self._cheque_get,
            "DocCashSession/Get": self._session_get,
            "OperatingCash/Get": self._operating_cash_get,
        }

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
    ) -> None:
        with self.lock:
            self.connected_integrations[cid] = {
                "connected_integration_id": cid,
                "key": key,
                "is_active": is_active,
                "name": name or key,
                "webhooks": webhooks or [],
            }
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
        status: int = 2,
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
    def handle(self, request: Recorded) -> Reply:
        if request.path == "/oauth/token":
            return self._token(request)
        if not request.path.startswith(GATEWAY_PREFIX):
            return Reply(404, {"detail": "not found"})
        parts = request.path[len(GATEWAY_PREFIX) :].split("/", 2)
        if len(parts) != 3 or parts[1] != "v1":
            return Reply(404, {"detail": "not found"})
        cid, _, method = parts
        auth = request.headers.get("authorization", "")
        with self.lock:
            authorised = auth.startswith("Bearer ") and auth[7:] in self.valid_tokens
        if not authorised:
            return Reply(401, {"error": "invalid_token"})
        handler = self._methods.get(method)
        if handler is None:
            return Reply(200, {"ok": False, "result": {"error": 404, "description": f"Method {method} not found"}})
        try:
            body = request.json()
        except ValueError:
            return Reply(400, {"ok": False, "result": {"error": 400, "description": "Malformed JSON"}})
        with self.lock:
            return Reply(200, handler(cid, body))

    def _token(self, request: Recorded) -> Reply:
        form = request.form()
        with self.lock:
            self.token_requests += 1
            if (
                form.get("grant_type") != "client_credentials"
                or form.get("client_id") != self.client_id
                or form.get("client_secret") != self.client_secret
            ):
                return Reply(401, {"error": "invalid_client"})
            token = f"tok-{next(self._token_seq)}"
            self.valid_tokens.add(token)
        return Reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_expires_in})

    # --- methods (called with self.lock held) ---------------------------------------------
    @staticmethod
    def _page(rows: list[dict[str, Any]], body: Any) -> dict[str, Any]:
        body = body if isinstance(body, dict) else {}
        offset = int(body.get("offset") or 0)
        limit = int(body.get("limit") or 100)
        page = rows[offset : offset + limit]
        envelope: dict[str, Any] = {"ok": True, "result": page, "total": len(rows)}
        if offset + limit < len(rows):
            envelope["next_offset"] = offset + limit
        return envelope

    def _connected_integration_get(self, cid: str, body: Any) -> dict[str, Any]:
        ids = body.get("connected_integration_ids") or [cid]
        rows = []
        for row in (self.connected_integrations[i] for i in ids if i in self.connected_integrations):
            row = dict(row)
            if not body.get("include_name"):
                row.pop("name", None)
            rows.append(row)
        return self._page(rows, body)

    def _setting_get(self, cid: str, body: Any) -> dict[str, Any]:
        target = body.get("connected_integration_id") or cid
        rows = [{"key": k, "value": v, "last_update": 0} for k, v in self.settings.get(target, {}).items()]
        return self._page(rows, body)

    def _setting_edit(self, cid: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, list):
            return {"ok": False, "result": {"error": 400, "description": "Expected an array of settings"}}
        ids = []
        for n, item in enumerate(body):
            current = self.settings.setdefault(item.get("connected_integration_id") or cid, {})
            for existing in [k for k in current if k.casefold() == str(item["key"]).casefold()]:
                del current[existing]
            current[str(item["key"])] = str(item["value"])
            ids.append(n + 1)
        return {"ok": True, "result": {"row_affected": len(body), "ids": ids}}

    def _cheque_get(self, cid: str, body: Any) -> dict[str, Any]:
        rows = list(self.cheques.values())
        if body.get("uuids"):
            wanted = set(body["uuids"])
            rows = [r for r in rows if r["uuid"] in wanted]
        if body.get("session_uuid"):
            rows = [r for r in rows if r.get("session") == body["session_uuid"]]
        if body.get("start_date") is not None:
            rows = [r for r in rows if r["date"] >= body["start_date"]]
        if body.get("end_date") is not None:
            rows = [r for r in rows if r["date"] <= body["end_date"]]
        return self._page(rows, body)

    def _session_get(self, cid: str, body: Any) -> dict[str, Any]:
        rows = list(self.sessions.values())
        if body.get("uuids"):
            wanted = set(body["uuids"])
            rows = [r for r in rows if r["uuid"] in wanted]
        if body.get("operating_cash_ids"):
            cash_ids = set(body["operating_cash_ids"])
            rows = [r for r in rows if r["operating_cash_id"] in cash_ids]
        return self._page(rows, body)

    def _operating_cash_get(self, cid: str, body: Any) -> dict[str, Any]:
        rows = list(self.operating_cash.values())
        if body.get("ids"):
            ids = set(body["ids"])
            rows = [r for r in rows if r["id"] in ids]
        if body.get("stock_ids"):
            stock_ids = set(body["stock_ids"])
            rows = [r for r in rows if r["stock"]["id"] in stock_ids]
        return self._page(rows, body)


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
