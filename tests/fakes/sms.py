"""A strict fake of Eskiz (notify.eskiz.uz), a real HTTP server on 127.0.0.1.

It records every message it accepted in `delivered` (a list of dicts), so tests can assert
exactly-once: `fake.delivered_counts()` maps a user_sms_id to how many times it was accepted.
Faults: `FakeServer.fail_next` (500, 429 with Retry-After, hangs before the fake acts) and
`accept_then_hang(times, delay)` (the fake accepts the messages and then answers late: the
dangerous "outcome unknown" case).

Sources, cited per behaviour below: [OAS] the OpenAPI description of Eskiz's API, public
repository iota-uz/eskiz, `docs/DefaultApi.md` and its models; [PD] /work/shared/docs/providers.md
"Eskiz". Eskiz is a Laravel application (its paged answers are Laravel's paginator, [OAS]
`PaginationData.md`), so where the documents show no error body the fake answers as Laravel
does ([LV]: 404/405 `{"message": ...}`, 422 `{"message", "errors": {field: [...]}}`); those bodies
are assumptions, marked as such.
"""

from __future__ import annotations

import email
import itertools
import random
import uuid
from collections import Counter
from typing import Any

import httpx2

from tests.fakes.base import FakeServer, Recorded, Reply


class _SmsFake(FakeServer):
    def __init__(self, latency: float = 0.0, port: int = 0) -> None:
        super().__init__(latency=latency, port=port)
        self.delivered: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._slow_accepts: list[list[float]] = []  # [remaining, delay]
        self._random_faults: list[tuple[float, Reply]] = []
        self._rng = random.Random(0)

    def random_failures(
        self, rate: float, status: int = 500, *, headers: dict[str, str] | None = None, seed: int = 0
    ) -> None:
        """From now on, each send call fails with `status` with probability `rate` (before the
        fake acts). Several may be stacked (e.g. 30% 500s, then 10% 429s). `clear_faults()` ends them."""
        with self.lock:
            self._rng = random.Random(seed)
            self._random_faults.append((rate, Reply(status, {"message": f"injected {status}"}, headers or {})))

    def _random_fault(self) -> Reply | None:
        with self.lock:
            for rate, reply in self._random_faults:
                if self._rng.random() < rate:
                    return reply
        return None

    def clear_faults(self) -> None:
        super().clear_faults()
        with self.lock:
            self._random_faults.clear()
            self._slow_accepts.clear()

    def start(self) -> _SmsFake:
        super().start()
        # The base handler writes headers and body in two send()s; with Nagle on, the body waits
        # for the client's delayed ACK (~40 ms per keep-alive request). Answer at once instead.
        assert self._httpd is not None
        self._httpd.RequestHandlerClass.disable_nagle_algorithm = True
        return self

    def accept_then_hang(self, times: int = 1, delay: float = 30.0) -> None:
        """The next `times` send calls are accepted (recorded in `delivered`) but answered
        only after `delay` seconds: a client with a shorter timeout never learns the outcome."""
        with self.lock:
            self._slow_accepts.append([times, delay])

    def _accept_delay(self) -> float:
        with self.lock:
            if not self._slow_accepts:
                return 0.0
            entry = self._slow_accepts[0]
            entry[0] -= 1
            if entry[0] <= 0:
                self._slow_accepts.pop(0)
            return entry[1]

    def _record(self, rows: list[dict[str, Any]]) -> None:
        with self.lock:
            self.delivered.extend(rows)

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.delivered.clear()
            self._slow_accepts.clear()


class FakeEskiz(_SmsFake):
    """Eskiz under its base URL (`ESKIZ_BASE_URL` = `fake.url`, production `https://notify.eskiz.uz/api`).

    Exact paths and methods only ([OAS] `DefaultApi.md`): `POST /auth/login`, `PATCH /auth/refresh`,
    `GET /auth/user`, `GET /user/get-limit`, `POST /message/sms/send`, `POST /message/sms/send-batch`,
    `POST /message/sms/get-user-messages-by-dispatch`, `POST /message/sms/get-dispatch-status`,
    `GET /message/sms/status_by_id/{id}`. Anything else: 404; a known path with another method: 405.

    `email`/`password` = None accept any non-empty credentials. `expire_tokens()` makes every
    issued token invalid (the next call answers 401). `logins` counts tokens issued by login.
    `balance` (None = unlimited) is spent one unit per SMS part; `lookups_fail(n)` makes the next
    `n` dispatch lookups answer 500.
    """

    base_url_env = "ESKIZ_BASE_URL"

    PER_PAGE = 50  # Laravel paginator page size for the lookups (any value: the client follows pages)

    def __init__(
        self, latency: float = 0.0, port: int = 0, *, email: str | None = None, password: str | None = None
    ) -> None:
        super().__init__(latency=latency, port=port)
        self.email, self.password = email, password
        self.tokens: dict[str, str] = {}  # token -> account email
        self.logins = 0
        self.logins_by_account: Counter = Counter()
        self.refreshes = 0
        self.balance: float | None = None
        self._failing_lookups = 0

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def lookups_fail(self, times: int) -> None:
        with self.lock:
            self._failing_lookups = times

    def _issue(self, account: str) -> str:
        token = "eyJ." + uuid.uuid4().hex
        with self.lock:
            self.tokens[token] = account
        return token

    def _account(self, request: Recorded) -> str | None:
        header = request.headers.get("authorization", "")
        with self.lock:
            return self.tokens.get(header[7:]) if header.startswith("Bearer ") else None

    # --- routing: exact paths, exact methods ------------------------------------------------
    _ROUTES: dict[str, str] = {
        "/auth/login": "POST",
        "/auth/refresh": "PATCH",
        "/auth/user": "GET",
        "/user/get-limit": "GET",
        "/message/sms/send": "POST",
        "/message/sms/send-batch": "POST",
        "/message/sms/get-user-messages-by-dispatch": "POST",
        "/message/sms/get-dispatch-status": "POST",
    }

    def handle(self, request: Recorded) -> Reply:
        path = request.path
        method = self._ROUTES.get(path)
        if path.startswith("/message/sms/status_by_id/") and path.count("/") == 4:
            method = "GET"
        if method is None:
            return Reply(404, {"message": "Not Found"})  # [LV] assumed body
        if request.method != method:
            # [LV] assumed body
            return Reply(405, {"message": f"The {request.method} method is not supported for route {path}."})
        if path == "/auth/login":
            return self._login(request)
        account = self._account(request)
        if account is None:
            # [PD] "HTTP 401 on any call means the token expired"; body as the production gateway saw it.
            return Reply(401, {"message": "Expired token", "status": "token-invalid"})
        if path == "/auth/refresh":
            with self.lock:
                self.refreshes += 1
            # [OAS] RefreshTokenResponse; [PD] "PATCH /auth/refresh with the bearer token returns a new one"
            return Reply(200, {"message": "token_generated", "data": {"token": self._issue(account)}})
        if path == "/auth/user":
            # [OAS] GetUserInfo → UserInfoResponse (a side-effect-free credential check)
            return Reply(200, {"status": "success", "data": {"id": 1, "name": "shop", "email": account}})
        if path == "/user/get-limit":
            # [OAS] GetUserLimit → UserLimitResponse {data: UserBalance {balance: number}, status}
            return Reply(
                200, {"status": "success", "data": {"balance": self.balance if self.balance is not None else 1e6}}
            )
        if path == "/message/sms/send-batch":
            return self._random_fault() or self._send_batch(request, account)
        if path == "/message/sms/send":
            return self._random_fault() or self._send_one(request, account)
        if path == "/message/sms/get-user-messages-by-dispatch":
            return self._by_dispatch(request, account)
        if path == "/message/sms/get-dispatch-status":
            return self._dispatch_status(request, account)
        return self._status_by_id(path.rsplit("/", 1)[1], account)

    # --- bodies: each call's documented encoding ---------------------------------------------
    @staticmethod
    def _content_type(request: Recorded) -> str:
        return request.headers.get("content-type", "").split(";")[0].strip().lower()

    def _form(self, request: Recorded) -> dict[str, str] | None:
        """Form fields of a form call ([OAS]: multipart/form-data; Laravel reads url-encoded
        forms and JSON alike). None when the body is not what its Content-Type says."""
        kind = self._content_type(request)
        if kind == "application/x-www-form-urlencoded":
            return request.form()
        if kind == "multipart/form-data":
            message = email.message_from_bytes(
                b"Content-Type: " + request.headers["content-type"].encode() + b"\r\n\r\n" + request.body
            )
            if not message.is_multipart():
                return None
            fields = {}
            for part in message.get_payload():
                name = part.get_param("name", header="content-disposition")
                if name:
                    fields[str(name)] = part.get_payload(decode=True).decode()
            return fields
        if kind == "application/json":
            try:
                body = request.json()
            except ValueError:
                return None
            return {k: str(v) for k, v in body.items()} if isinstance(body, dict) else None
        return None

    @staticmethod
    def _invalid(**errors: str) -> Reply:
        # [LV] Laravel's validation answer (assumed: Eskiz documents no error body)
        first = next(iter(errors.values()))
        return Reply(422, {"message": first, "errors": {k: [v] for k, v in errors.items()}})

    def _login(self, request: Recorded) -> Reply:
        # [OAS] Login: form fields email, password → LoginResponse; [PD] the answer's shape.
        form = self._form(request) or {}
        email_, password = form.get("email", ""), form.get("password", "")
        if not email_ or not password:
            return self._invalid(**{f: f"The {f} field is required." for f in ("email", "password") if not form.get(f)})
        if self.email is not None and (email_, password) != (self.email, self.password):
            # [PD] a 401 on login means the credentials are wrong (body assumed)
            return Reply(401, {"message": "Invalid credentials", "status": "error"})
        with self.lock:
            self.logins += 1
            self.logins_by_account[email_] += 1
        return Reply(
            200, {"message": "token_generated", "data": {"token": self._issue(email_)}, "token_type": "bearer"}
        )

    def _charge(self, parts: int) -> Reply | None:
        with self.lock:
            if self.balance is None:
                return None
            if self.balance < parts:
                # Assumed body: Eskiz documents no answer for an empty balance.
                return Reply(400, {"message": "Insufficient balance", "status": "error"})
            self.balance -= parts
        return None

    def _send_batch(self, request: Recorded, account: str) -> Reply:
        # [OAS] SendSmsBatch: Content-Type application/json, SendSmsBatchRequest {messages:
        # [{user_sms_id, to (number), text}], from, dispatch_id (int), callback_url?}
        if self._content_type(request) != "application/json":
            return self._invalid(messages="The messages field is required.")
        try:
            body = request.json()
            messages = body["messages"]
            assert isinstance(messages, list) and messages, "The messages field is required."
            assert isinstance(body.get("from"), str) and body["from"], "The from field is required."
            assert isinstance(body.get("dispatch_id"), int), "The dispatch id must be an integer."
            rows = []
            for m in messages:
                to, text = m["to"], m["text"]
                assert isinstance(to, int) and len(str(to)) == 12 and str(to).startswith("998"), "bad 'to'"
                assert isinstance(text, str) and text, "empty text"
                rows.append({"user_sms_id": str(m["user_sms_id"]), "phone": str(to), "text": text})
        except (ValueError, KeyError, TypeError, AttributeError, AssertionError) as exc:
            return self._invalid(messages=f"Invalid batch: {exc}")
        refused = self._charge(len(rows))
        if refused is not None:
            return refused
        request_id = str(uuid.uuid4())
        for row in rows:
            row.update(
                request_id=request_id,
                message_id=str(next(self._ids)),
                account=account,
                sender=str(body.get("from", "")),
                dispatch_id=body.get("dispatch_id"),
                callback_url=body.get("callback_url"),
                status="waiting",
            )
        delay = self._accept_delay()
        self._record(rows)  # accepted before answering: a lost answer leaves them accepted
        # [OAS] SendSmsBatchResponse {id, message, status: [string]}; [PD] "Waiting for SMS provider"
        return Reply(
            200,
            {"id": request_id, "message": "Waiting for SMS provider", "status": ["waiting"] * len(rows)},
            delay=delay,
        )

    def _send_one(self, request: Recorded, account: str) -> Reply:
        # [OAS] SendSms: form mobile_phone, message, from, callback_url? → SendSmsResponse
        form = self._form(request)
        if form is None:
            return self._invalid(mobile_phone="The mobile phone field is required.")
        phone, text = form.get("mobile_phone", ""), form.get("message", "")
        if not (phone.isdigit() and len(phone) == 12) or not text:
            return self._invalid(mobile_phone="Invalid mobile_phone or message")
        refused = self._charge(1)
        if refused is not None:
            return refused
        request_id = str(uuid.uuid4())
        delay = self._accept_delay()
        self._record(
            [
                {
                    "user_sms_id": None,
                    "phone": phone,
                    "text": text,
                    "request_id": request_id,
                    "message_id": str(next(self._ids)),
                    "account": account,
                    "sender": form.get("from", ""),
                    "dispatch_id": None,
                    "callback_url": form.get("callback_url"),
                    "status": "waiting",
                }
            ]
        )
        return Reply(200, {"id": request_id, "message": "Waiting for SMS provider", "status": "waiting"}, delay=delay)

    # --- lookups: answered from what was really accepted ------------------------------------------
    def _rows_of_dispatch(self, account: str, dispatch_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.delivered if r["account"] == account and str(r["dispatch_id"]) == dispatch_id]

    @staticmethod
    def _message_item(row: dict[str, Any]) -> dict[str, Any]:
        # [OAS] MessageItem: optional fields; `dispatch_id` a nullable string, `to` a string,
        # `parts` a map of MessagePart {accept, status, submit, delivery}.
        return {
            "id": int(row["message_id"]),
            "user_id": 1,
            "country_id": None,
            "dispatch_id": None if row["dispatch_id"] is None else str(row["dispatch_id"]),
            "user_sms_id": row["user_sms_id"],
            "request_id": row["request_id"],
            "price": 50.0,
            "is_ad": False,
            "nick": row["sender"],
            "to": row["phone"],
            "message": row["text"],
            "encoding": 0,
            "parts_count": 1,
            "parts": {"1": {"status": row["status"], "submit": 1}},
            "status": row["status"],
            "created_at": "2026-11-26T10:00:00.000000Z",
        }

    def _by_dispatch(self, request: Recorded, account: str) -> Reply:
        # [OAS] GetUserMessagesByDispatch: multipart form dispatch_id (status, count, is_ad optional)
        # → UserMessagesResponse {data: PaginationData {current_page, last_page, per_page, total,
        # result: [MessageItem]}, status}; pages as Laravel's paginator (`page`).
        form = self._form(request)
        if form is None or not form.get("dispatch_id"):
            return self._invalid(dispatch_id="The dispatch id field is required.")
        with self.lock:
            if self._failing_lookups > 0:
                self._failing_lookups -= 1
                return Reply(500, {"message": "Server Error"})
        rows = self._rows_of_dispatch(account, form["dispatch_id"])
        page = max(1, int(form.get("page") or 1))
        last = max(1, -(-len(rows) // self.PER_PAGE))
        chunk = rows[(page - 1) * self.PER_PAGE : page * self.PER_PAGE]
        return Reply(
            200,
            {
                "status": "success",
                "data": {
                    "current_page": page,
                    "last_page": last,
                    "per_page": self.PER_PAGE,
                    "total": len(rows),
                    "prev_page_url": None,
                    "next_page_url": None,
                    "result": [self._message_item(r) for r in chunk],
                },
            },
        )

    def _dispatch_status(self, request: Recorded, account: str) -> Reply:
        # [OAS] GetDispatchStatus: form dispatch_id → DispatchStatusResponse {status, data:
        # [StatusCount {status, total}], id (nullable)}
        form = self._form(request)
        if form is None or not form.get("dispatch_id"):
            return self._invalid(dispatch_id="The dispatch id field is required.")
        counts = Counter(r["status"] for r in self._rows_of_dispatch(account, form["dispatch_id"]))
        data = [{"status": s, "total": n} for s, n in sorted(counts.items())]
        return Reply(200, {"status": "success", "data": data, "id": None})

    def _status_by_id(self, message_id: str, account: str) -> Reply:
        # [OAS] GetSmsStatusById → SmsStatusResponse (message not found: 404, body assumed)
        with self.lock:
            rows = [r for r in self.delivered if r["account"] == account and r["message_id"] == message_id]
        if not rows:
            return Reply(404, {"message": "Not Found"})
        return Reply(200, {"status": "success", "data": self._message_item(rows[0])})

    # --- helpers for tests -----------------------------------------------------------------
    def delivered_counts(self, account: str | None = None) -> Counter:
        """user_sms_id → times accepted (for one account's email when given)."""
        with self.lock:
            return Counter(r["user_sms_id"] for r in self.delivered if account is None or r["account"] == account)

    def delivery_report(self, row: dict[str, Any], status: str = "DELIVRD") -> dict[str, Any]:
        # [OAS] SmsCallbackWebhook / SendSms `callback_url` description: every value a string.
        return {
            "request_id": row["request_id"],
            "message_id": row["message_id"],
            "user_sms_id": row["user_sms_id"],
            "country": "UZ",
            "phone_number": row["phone"],
            "sms_count": "1",
            "status": status,
            "status_date": "2026-11-26 10:00:00",
        }

    def send_delivery_reports(
        self, status: str = "DELIVRD", *, url: str | None = None, as_form: bool = True, limit: int | None = None
    ) -> list[int]:
        """POST one report per delivered message to its callback_url (or `url`), as Eskiz does.
        Returns the HTTP status codes received."""
        with self.lock:
            rows = list(self.delivered[:limit] if limit is not None else self.delivered)
        codes = []
        with httpx2.Client(timeout=10) as client:
            for row in rows:
                target = url or row.get("callback_url")
                if not target:
                    continue
                report = self.delivery_report(row, status)
                response = client.post(target, data=report) if as_form else client.post(target, json=report)
                codes.append(response.status_code)
        return codes


__all__ = ["FakeEskiz"]
