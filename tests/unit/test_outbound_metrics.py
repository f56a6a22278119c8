"""The outbound-call transport wrapper (workers/metrics/outbound.py): target, outcome and time per call."""

from __future__ import annotations

import asyncio

import httpx2
import pytest

from workers.metrics.outbound import CALL_DURATION, CALLS, MeasuredTransport

TARGETS = {"regos.test/oauth/token": "regos_oauth", "regos.test": "regos", "sms.test": "getsms"}


def count(target: str, outcome: str) -> float:
    return CALLS.labels(target, outcome)._value.get()


def timed(target: str) -> float:
    samples = CALL_DURATION.collect()[0].samples
    return next((s.value for s in samples if s.name.endswith("_count") and s.labels == {"target": target}), 0.0)


class Body(httpx2.AsyncByteStream):
    """A body streamed as a real connection's is (a `content=` body is read eagerly and never closed)."""

    async def __aiter__(self):
        yield b"{}"


def call(url: str, handler) -> None:
    async def main() -> None:
        async with httpx2.AsyncClient(transport=MeasuredTransport(httpx2.MockTransport(handler), TARGETS)) as client:
            await client.get(url)

    asyncio.run(main())


@pytest.mark.parametrize(
    ("url", "status", "target", "outcome"),
    [
        ("https://regos.test/gateway/out/x/v1/Item/Get", 200, "regos", "2xx"),
        ("https://regos.test/oauth/token", 401, "regos_oauth", "4xx"),
        ("https://sms.test/send", 429, "getsms", "429"),
        ("https://sms.test/send", 503, "getsms", "5xx"),
        ("https://elsewhere.test/", 302, "other", "3xx"),
    ],
)
def test_each_answer_counts_once_by_target_and_status_class(url: str, status: int, target: str, outcome: str) -> None:
    before, before_timed = count(target, outcome), timed(target)
    call(url, lambda request: httpx2.Response(status, stream=Body()))
    assert count(target, outcome) == before + 1
    assert timed(target) == before_timed + 1


@pytest.mark.parametrize(
    ("error", "outcome"), [(httpx2.ReadTimeout("slow"), "timeout"), (httpx2.ConnectError("refused"), "error")]
)
def test_no_answer_counts_as_timeout_or_error_and_is_raised(error: Exception, outcome: str) -> None:
    before = count("getsms", outcome)

    def fail(request: httpx2.Request) -> httpx2.Response:
        raise error

    with pytest.raises(type(error)):
        call("https://sms.test/send", fail)
    assert count("getsms", outcome) == before + 1


def test_a_timeout_while_reading_the_body_is_a_timeout_not_a_2xx() -> None:
    class SlowBody(httpx2.AsyncByteStream):
        async def __aiter__(self):
            yield b"{"
            raise httpx2.ReadTimeout("body too slow")

    before_ok, before_timeout = count("regos", "2xx"), count("regos", "timeout")
    with pytest.raises(httpx2.ReadTimeout):
        call("https://regos.test/x", lambda request: httpx2.Response(200, stream=SlowBody()))
    assert (count("regos", "2xx"), count("regos", "timeout")) == (before_ok, before_timeout + 1)
