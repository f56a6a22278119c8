"""The outcome vocabulary of one outbound call and the Retry-After parser (`kit.http_outcome`)."""

from __future__ import annotations

import email.utils
import time

import httpx2
import pytest

from integrations.email_sender import smtp
from integrations.errors import PermanentError, TransientError, verdict
from kit.http_outcome import (
    NotSent,
    OutcomeUnknown,
    ProviderHTTPError,
    Refused,
    parse_retry_after,
    transport_failure,
)

REQUEST = httpx2.Request("POST", "https://provider.test/send")


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (httpx2.ConnectError("refused", request=REQUEST), NotSent),
        (httpx2.ConnectTimeout("slow", request=REQUEST), NotSent),
        (httpx2.PoolTimeout("busy", request=REQUEST), NotSent),
        (httpx2.UnsupportedProtocol("ftp", request=REQUEST), NotSent),
        (httpx2.ProxyError("proxy", request=REQUEST), NotSent),
        (httpx2.ReadTimeout("slow", request=REQUEST), OutcomeUnknown),
        (httpx2.WriteTimeout("slow", request=REQUEST), OutcomeUnknown),
        (httpx2.ReadError("reset", request=REQUEST), OutcomeUnknown),
        (httpx2.RemoteProtocolError("dropped", request=REQUEST), OutcomeUnknown),
    ],
)
def test_transport_errors_say_whether_the_request_left(error: httpx2.HTTPError, outcome: type) -> None:
    failure = transport_failure("eskiz send-batch", error)
    assert type(failure) is outcome
    assert failure.retryable is (outcome is NotSent)
    assert str(failure).startswith(f"eskiz send-batch: {type(error).__name__}")


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (401, False), (403, False), (404, False), (408, True), (422, False), (429, True), (500, True)],
)
def test_answers_are_refusals_retryable_only_when_they_say_later(status: int, retryable: bool) -> None:
    failure = ProviderHTTPError("getsms send", status, "said no", retry_after=3.0)
    assert isinstance(failure, Refused)
    assert failure.retryable is retryable
    assert str(failure) == f"getsms send: HTTP {status}: said no"
    decided = verdict("getsms for connected integration 7", failure)
    assert type(decided) is (TransientError if retryable else PermanentError)
    assert str(decided) == f"getsms for connected integration 7: getsms send: HTTP {status}: said no"
    assert decided.retry_after == (3.0 if retryable else None)


def test_smtp_failures_speak_the_same_vocabulary() -> None:
    assert isinstance(smtp.NotReached("x"), NotSent) and isinstance(smtp.Deferred("x"), NotSent)
    assert isinstance(smtp.OutcomeUnknown("x"), OutcomeUnknown)
    assert isinstance(smtp.Refused("x"), Refused) and isinstance(smtp.LoginRefused("x"), Refused)
    assert [e("x").retryable for e in (smtp.NotReached, smtp.Deferred, smtp.Refused, smtp.OutcomeUnknown)] == [
        True,
        True,
        False,
        False,
    ]
    assert str(smtp.Refused("550 no such mailbox")) == "550 no such mailbox"


def test_retry_after_seconds_and_http_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("soon", default=1.0) == 1.0
    assert parse_retry_after(email.utils.formatdate(time.time() + 30, usegmt=True)) == pytest.approx(30, abs=1.5)
    assert parse_retry_after(email.utils.formatdate(time.time() - 30, usegmt=True)) == 0.0
