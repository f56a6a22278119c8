"""A strict fake of a GetSMS gateway: a real HTTP server on 127.0.0.1.

Sources for every behaviour: shared/docs/providers.md "GetSMS" (S1); getsms.uz/page/index/16
(S2: "один запрос 50 SMS-сообщений", login/password issued by support, phone without "+");
a real answer quoted in public code (S3: `[{"recipient":998974251244,"text":"text","user_id":263,
"date_received":1700043426,"message_id":81728619,"request_id":12810522,"client_ip":"..."}]`).

- Only `POST` on exactly `path` (send) and `path + "status/"` (status); the gateway address is
  issued per operator and ends with "/" (S1): anything else is 404 (no prefix/slash matching).
- Body must be `application/x-www-form-urlencoded` (S1, and the production client sets it);
  another content type reads as no fields at all → error 100 (login or password empty).
- Answers are HTTP 200 with a JSON array, errors in-band (S1): whole-request errors are a
  one-element array `[{"error": 1, "error_no": N, "text": "..."}]`; per-message errors carry
  `error_no` 300 and `error_text`; accepted messages carry `request_id` and `message_id`.
- Codes (S1): 100 login/password empty, 101 wrong login/password, 102 blocked, 103 limit over,
  200 data not JSON, 201 data array invalid (not an array, empty, more than 50 items, items
  without phone/text), 202 nickname not set (the account requires one), 203 wrong nickname,
  300 not a phone number, 400 wrong request_id (status).

Every accepted message is recorded in `delivered` (exactly-once checks: `delivered_counts()`).
Knobs: `wrong_credentials()`, `blocked()`, `limit_over()`, `reject_phones(...)`,
`hang_before_acting(times, delay)` (no answer, nothing sent), `accept_then_hang(times, delay)`
(GetSMS acts, the answer comes late), `hang_then_drop(times)`
(GetSMS acts, then the connection closes without an answer), `set_status(...)`.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections import Counter
from typing import Any

from tests.fakes.base import FakeServer, Recorded, Reply

MAX_ITEMS = 50  # S2
FORM = "application/x-www-form-urlencoded"


def _error(error_no: int, text: str) -> Reply:
    """A whole-request error: HTTP 200, a one-element array (S1)."""
    return Reply(200, [{"error": 1, "error_no": error_no, "text": text}])


class FakeGetSms(FakeServer):
    base_url_env = "GETSMS_BASE_URL"

    def __init__(
        self,
        latency: float = 0.0,
        port: int = 0,
        *,
        login: str | None = None,
        password: str | None = None,
        path: str = "/smsgateway/",
        nickname_required: bool = False,
        nicknames: set[str] | None = None,
    ) -> None:
        super().__init__(latency=latency, port=port)
        assert path.endswith("/"), "GetSMS gateway paths end with '/' (S1)"
        self.path = path
        self.login, self.password = login, password  # None: any non-empty credentials
        self.nickname_required = nickname_required
        self.nicknames = nicknames  # None: any nickname is registered
        self.delivered: list[dict[str, Any]] = []
        self.statuses: dict[str, str] = {}  # request_id -> status (default "delivered")
        self._ids = itertools.count(52480252)
        self._message_ids = itertools.count(16854781)
        self._account_error: Reply | None = None
        self._bad_phones: set[str] = set()
        self._slow_accepts: list[list[float]] = []  # [remaining, delay]
        self._drops = 0
        self._hangs: list[list[float]] = []  # [remaining, delay]
        self._random_faults: list[tuple[float, Reply]] = []
        self._rng = random.Random(0)

    @property
    def base_url(self) -> str:
        """What an operator configures as GETSMS_BASE_URL."""
        return self.url + self.path

    # --- knobs ---------------------------------------------------------------------------
    def wrong_credentials(self) -> None:
        with self.lock:
            self._account_error = _error(101, "Incorrect Login or Password")

    def blocked(self) -> None:
        with self.lock:
            self._account_error = _error(102, "Your account is blocked")

    def limit_over(self) -> None:
        with self.lock:
            self._account_error = _error(103, "Your limit is over")

    def reject_phones(self, *phones: str) -> None:
        """These numbers get the per-message error 300 (S1)."""
        with self.lock:
            self._bad_phones.update(phones)

    def accept_then_hang(self, times: int = 1, delay: float = 30.0) -> None:
        """The next `times` sends are accepted (recorded) but answered after `delay` seconds."""
        with self.lock:
            self._slow_accepts.append([times, delay])

    def hang_before_acting(self, times: int = 1, delay: float = 30.0) -> None:
        """The next `times` sends hang `delay` seconds without acting, then a proxy's 504."""
        with self.lock:
            self._hangs.append([times, delay])

    def hang_then_drop(self, times: int = 1) -> None:
        """The next `times` sends are accepted, then the connection closes with no answer."""
        with self.lock:
            self._drops += times

    def random_failures(self, rate: float, status: int = 500, *, seed: int = 0) -> None:
        """Each send fails with HTTP `status` (before acting) with probability `rate`."""
        with self.lock:
            self._rng = random.Random(seed)
            self._random_faults.append((rate, Reply(status, b"<html>upstream error</html>")))

    def set_status(self, request_id: str, status: str) -> None:
        with self.lock:
            self.statuses[str(request_id)] = status

    def clear_faults(self) -> None:
        super().clear_faults()
        with self.lock:
            self._account_error = None
            self._bad_phones.clear()
            self._slow_accepts.clear()
            self._drops = 0
            self._hangs.clear()
            self._random_faults.clear()

    def reset(self) -> None:
        super().reset()
        self.clear_faults()
        with self.lock:
            self.delivered.clear()
            self.statuses.clear()

    # --- helpers for tests ---------------------------------------------------------------
    def delivered_counts(self, login: str | None = None) -> Counter:
        """(phone, text) → times accepted (for one login when given)."""
        with self.lock:
            return Counter((r["phone"], r["text"]) for r in self.delivered if login is None or r["login"] == login)

    def sends(self) -> list[Recorded]:
        return [r for r in self.calls() if r.path == self.path]

    # --- the service -----------------------------------------------------------------------
    def handle(self, request: Recorded) -> Reply:
        if request.path not in (self.path, self.path + "status/"):
            return Reply(404, b"<html><body>404 Not Found</body></html>", {"Content-Type": "text/html"})
        if request.method != "POST":
            return Reply(405, b"<html><body>405 Not Allowed</body></html>", {"Content-Type": "text/html"})
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        form = request.form() if content_type == FORM else {}
        login, password = form.get("login", ""), form.get("password", "")
        if not login or not password:
            return _error(100, "Login or Password is empty")
        if self.login is not None and (login, password) != (self.login, self.password):
            return _error(101, "Incorrect Login or Password")
        with self.lock:
            account_error = self._account_error
        if account_error is not None:
            return account_error
        try:
            data = json.loads(form.get("data", ""))
        except ValueError:
            return _error(200, "data is not JSON")
        if (
            not isinstance(data, list)
            or not data
            or len(data) > MAX_ITEMS
            or not all(isinstance(i, dict) for i in data)
        ):
            return _error(201, f"data must be an array of 1..{MAX_ITEMS} objects")
        if request.path.endswith("status/"):
            return self._status(data)
        return self._send(data, login, form.get("nickname"))

    def _status(self, data: list[dict[str, Any]]) -> Reply:
        out = []
        with self.lock:
            by_id = {str(r["request_id"]): r for r in self.delivered}
            for item in data:
                row = by_id.get(str(item.get("request_id", "")))
                if row is None:
                    out.append({"error": 1, "error_no": 400, "error_text": "Wrong request_id"})
                    continue
                state = self.statuses.get(str(row["request_id"]), "delivered")
                out.append(
                    {
                        "request_id": row["request_id"],
                        "message_id": row["message_id"],
                        "recipient": int(row["phone"]),
                        "status": state,
                        "date_sent": int(row["at"]) + 1,
                        "date_delivered": int(row["at"]) + 3 if state == "delivered" else None,
                        "count_messages": 1,
                        "description": state,
                    }
                )
        return Reply(200, out)

    def _send(self, data: list[dict[str, Any]], login: str, nickname: str | None) -> Reply:
        if any(not isinstance(i.get("phone"), str) or not isinstance(i.get("text"), str) for i in data):
            return _error(201, "each item needs phone and text")
        if nickname is None and self.nickname_required:
            return _error(202, "Nickname is not set")
        if nickname is not None and self.nicknames is not None and nickname not in self.nicknames:
            return _error(203, "Wrong nickname")
        with self.lock:
            if self._hangs:
                entry = self._hangs[0]
                entry[0] -= 1
                if entry[0] <= 0:
                    self._hangs.pop(0)
                return Reply(504, b"<html>504 Gateway Time-out</html>", {"Content-Type": "text/html"}, entry[1])
            for rate, reply in self._random_faults:
                if self._rng.random() < rate:
                    return reply
        answer, rows = [], []
        now = time.time()
        with self.lock:
            bad = set(self._bad_phones)
        for item in data:
            phone, text = item["phone"], item["text"]
            if not (phone.isdigit() and 9 <= len(phone) <= 15) or phone in bad:
                answer.append({"recipient": phone, "text": text, "error": 1, "error_no": 300,
                               "error_text": "is NOT a phone number"})  # fmt: skip
                continue
            request_id, message_id = next(self._ids), next(self._message_ids)
            rows.append(
                {"phone": phone, "text": text, "login": login, "nickname": nickname,
                 "request_id": request_id, "message_id": message_id, "at": now}
            )  # fmt: skip
            answer.append(
                {"recipient": int(phone), "text": text, "message_id": message_id, "request_id": request_id,
                 "date_received": int(now), "user_id": 1, "client_ip": "127.0.0.1"}
            )  # fmt: skip
        with self.lock:
            self.delivered.extend(rows)  # GetSMS acted: whatever happens to the answer now
            drop = self._drops > 0
            if drop:
                self._drops -= 1
            delay = 0.0
            if not drop and self._slow_accepts:
                entry = self._slow_accepts[0]
                entry[0] -= 1
                delay = entry[1]
                if entry[0] <= 0:
                    self._slow_accepts.pop(0)
        if drop:
            raise ConnectionAbortedError("fake GetSMS drops the connection after acting")
        return Reply(200, answer, delay=delay)


__all__ = ["FakeGetSms"]
