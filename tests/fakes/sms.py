"""Fakes of the SMS providers: Eskiz and GetSMS, real HTTP servers on 127.0.0.1.

Both record every message they accepted in `delivered` (a list of dicts), so tests can assert
exactly-once: `fake.delivered_counts()` maps a key (user_sms_id for Eskiz, phone+text for
GetSMS) to how many times it was accepted. Faults: `FakeServer.fail_next` (500, 429 with
Retry-After, hangs before the fake acts) and `accept_then_hang(times, delay)` (the fake accepts
the messages and then answers late: the dangerous "outcome unknown" case).
"""

from __future__ import annotations

import itertools
import json
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
    """notify.eskiz.uz: `/auth/login`, `/auth/refresh`, `/message/sms/send`, `/message/sms/send-batch`.

    `email`/`password` = None accept any non-empty credentials. `expire_tokens()` makes every
    issued token invalid (the next call answers 401). `logins` counts tokens issued by login.
    """

    def __init__(
        self, latency: float = 0.0, port: int = 0, *, email: str | None = None, password: str | None = None
    ) -> None:
        super().__init__(latency=latency, port=port)
        self.email, self.password = email, password
        self.tokens: dict[str, str] = {}  # token -> account email
        self.logins = 0
        self.logins_by_account: Counter = Counter()
        self.refreshes = 0

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def _issue(self, account: str) -> str:
        token = "eyJ." + uuid.uuid4().hex
        with self.lock:
            self.tokens[token] = account
        return token

    def _account(self, request: Recorded) -> str | None:
        header = request.headers.get("authorization", "")
        with self.lock:
            return self.tokens.get(header[7:]) if header.startswith("Bearer ") else None

    def handle(self, request: Recorded) -> Reply:
        path = request.path.rstrip("/")
        if path.endswith("/auth/login") and request.method == "POST":
            form = request.form()
            email, password = form.get("email", ""), form.get("password", "")
            if (
                not email
                or not password
                or (self.email is not None and (email, password) != (self.email, self.password))
            ):
                return Reply(401, {"message": "Invalid credentials", "status": "error"})
            with self.lock:
                self.logins += 1
                self.logins_by_account[email] += 1
            return Reply(
                200, {"message": "token_generated", "data": {"token": self._issue(email)}, "token_type": "bearer"}
            )
        account = self._account(request)
        if account is None:
            return Reply(401, {"message": "Expired token", "status": "token-invalid"})
        if path.endswith("/auth/refresh"):
            with self.lock:
                self.refreshes += 1
            return Reply(
                200, {"message": "token_generated", "data": {"token": self._issue(account)}, "token_type": "bearer"}
            )
        if path.endswith("/message/sms/send-batch") and request.method == "POST":
            return self._random_fault() or self._send_batch(request, account)
        if path.endswith("/message/sms/send") and request.method == "POST":
            return self._random_fault() or self._send_one(request, account)
        return Reply(404, {"message": "Not found"})

    def _send_batch(self, request: Recorded, account: str) -> Reply:
        try:
            body = request.json()
            messages = body["messages"]
            assert isinstance(messages, list) and messages
            rows = []
            for m in messages:
                to, text = m["to"], m["text"]
                assert isinstance(to, int) and len(str(to)) == 12 and str(to).startswith("998"), "bad 'to'"
                assert isinstance(text, str) and text, "empty text"
                rows.append({"user_sms_id": str(m["user_sms_id"]), "phone": str(to), "text": text})
        except (ValueError, KeyError, TypeError, AssertionError) as exc:
            return Reply(422, {"message": f"Invalid batch: {exc}", "status": "error"})
        request_id = str(uuid.uuid4())
        for row in rows:
            row.update(
                request_id=request_id,
                message_id=str(next(self._ids)),
                account=account,
                sender=str(body.get("from", "")),
                dispatch_id=body.get("dispatch_id"),
                callback_url=body.get("callback_url"),
            )
        delay = self._accept_delay()
        self._record(rows)
        return Reply(
            200,
            {"id": request_id, "message": "Waiting for SMS provider", "status": ["waiting"] * len(rows)},
            delay=delay,
        )

    def _send_one(self, request: Recorded, account: str) -> Reply:
        form = request.form()
        phone, text = form.get("mobile_phone", ""), form.get("message", "")
        if not (phone.isdigit() and len(phone) == 12) or not text:
            return Reply(422, {"message": "Invalid mobile_phone or message", "status": "error"})
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
                }
            ]
        )
        return Reply(200, {"id": request_id, "message": "Waiting for SMS provider", "status": "waiting"}, delay=delay)

    # --- helpers for tests -----------------------------------------------------------------
    def delivered_counts(self, account: str | None = None) -> Counter:
        """user_sms_id → times accepted (for one account's email when given)."""
        with self.lock:
            return Counter(r["user_sms_id"] for r in self.delivered if account is None or r["account"] == account)

    def delivery_report(self, row: dict[str, Any], status: str = "DELIVRD") -> dict[str, Any]:
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


class FakeGetSms(_SmsFake):
    """A GetSMS gateway: POST on any path, form `login`, `password`, `nickname?`, `data` (JSON string)."""

    def __init__(
        self, latency: float = 0.0, port: int = 0, *, login: str | None = None, password: str | None = None
    ) -> None:
        super().__init__(latency=latency, port=port)
        self.login, self.password = login, password

    def handle(self, request: Recorded) -> Reply:
        if request.method != "POST":
            return Reply(405, {"error": "method not allowed"})
        form = request.form()
        login, password = form.get("login", ""), form.get("password", "")
        if not login or not password or (self.login is not None and (login, password) != (self.login, self.password)):
            return Reply(401, {"error": "Invalid login or password"})
        try:
            data = json.loads(form.get("data", ""))
            assert isinstance(data, list) and data, "data must be a non-empty array"
            assert len(data) <= 50, "at most 50 messages per call"
            rows = []
            for item in data:
                phone, text = item["phone"], item["text"]
                assert isinstance(phone, str) and phone.isdigit() and len(phone) == 12, "bad phone"
                assert isinstance(text, str) and text, "empty text"
                rows.append({"phone": phone, "text": text})
        except (ValueError, KeyError, TypeError, AssertionError) as exc:
            return Reply(400, {"error": f"Invalid data: {exc}"})
        fault = self._random_fault()
        if fault is not None:
            return fault
        request_id = str(next(self._ids))
        for n, row in enumerate(rows):
            row.update(request_id=request_id, index=n, login=login, nickname=form.get("nickname"))
        delay = self._accept_delay()
        self._record(rows)
        return Reply(200, {"status": "ok", "id": request_id, "count": len(rows)}, delay=delay)

    def delivered_counts(self, login: str | None = None) -> Counter:
        """(phone, text) → times accepted (for one login when given)."""
        with self.lock:
            return Counter((r["phone"], r["text"]) for r in self.delivered if login is None or r["login"] == login)


__all__ = ["FakeEskiz", "FakeGetSms"]
