"""Issue 12, Telegram: an unknown outcome is sent again (at least once), duplicates bounded and
counted; work cancelled before its request left is released and sent normally.

Real Redis, FakeRegos and FakeTelegram over HTTP; the worker's time limit is reproduced by
cancelling the run (`asyncio.wait_for`), as `workers.runtime.run` does with `future.cancel()`.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from prometheus_client import REGISTRY

from integrations.errors import TransientError
from integrations.telegram.sender import MAX_RESENDS
from schemas.envelope import WebhookCall
from tests.telegram import Env, new_chat, with_integration


def resent_total() -> float:
    return REGISTRY.get_sample_value("gateway_telegram_resent_total") or 0.0


def cheque(env: Env) -> str:
    return env.regos.add_cheque(amount=1000, code="AL-1")["uuid"]


def event() -> str:
    return f"evt-{uuid.uuid4().hex}"


def cancelled_after(env: Env, doc: str, evt: str, seconds: float) -> None:
    """The run is cancelled after `seconds`, like a task hitting TASK_TIME_LIMIT_SECONDS."""
    call = WebhookCall(action="DocChequeClosed", data={"uuid": doc})

    async def main() -> None:
        await asyncio.wait_for(with_integration(env, lambda i: i.handle_webhook(call), event_id=evt), seconds)

    with pytest.raises(TimeoutError):
        asyncio.run(main())


def test_cancelled_after_the_request_left_is_sent_again_once(env: Env) -> None:
    held, done = new_chat(), new_chat()
    env.configure(CHAT_IDS=[int(held), int(done)])
    env.tg.hold(held, 3, accept=True)  # Telegram takes the message; its answer never arrives
    doc, evt = cheque(env), event()
    before = resent_total()

    cancelled_after(env, doc, evt, 1.0)
    assert len(env.tg.sent(held)) == 1 and len(env.tg.sent(done)) == 1

    retry = env.webhook("DocChequeClosed", doc, event_id=evt)
    assert retry.ok and retry.result["resent"] == 1 and retry.result["sent"] == 1, retry
    assert retry.result["already_sent"] == 1  # the chat whose send was recorded is not resent
    assert len(env.tg.sent(held)) == 2 and len(env.tg.sent(done)) == 1  # one duplicate, bounded
    assert resent_total() == before + 1

    again = env.webhook("DocChequeClosed", doc, event_id=evt)
    assert again.result["already_sent"] == 2 and again.result["resent"] == 0
    assert len(env.tg.sent(held)) == 2


def test_cancelled_before_the_request_left_is_released_and_sent_normally(env: Env) -> None:
    chat = new_chat()
    env.configure(CHAT_IDS=[int(chat)])
    env.tg.rate_limit(chat, retry_after=3, times=1)  # the run waits out a 429 and is cancelled meanwhile
    doc, evt = cheque(env), event()
    before = resent_total()

    cancelled_after(env, doc, evt, 1.0)
    assert env.tg.sent(chat) == []

    retry = env.webhook("DocChequeClosed", doc, event_id=evt)
    assert retry.result["sent"] == 1 and retry.result["resent"] == 0 and retry.result["unknown"] == 0, retry
    assert len(env.tg.sent(chat)) == 1 and resent_total() == before


@pytest.mark.parametrize("accept", [True, False])
def test_no_answer_after_the_request_left_retries_and_sends_again(env: Env, accept: bool) -> None:
    env.settings = env.settings.model_copy(update={"provider_timeout_seconds": 0.5})
    chat, other = new_chat(), new_chat()
    env.configure(CHAT_IDS=[int(chat), int(other)])
    env.tg.hold(chat, 2, accept=accept)
    doc, evt = cheque(env), event()

    with pytest.raises(TransientError) as info:  # the task is retried, not ended with an "unknown"
        env.webhook("DocChequeClosed", doc, event_id=evt)
    assert "no answer" in str(info.value)
    assert len(env.tg.sent(other)) == 1

    retry = env.webhook("DocChequeClosed", doc, event_id=evt)
    assert retry.result["resent"] == 1 and retry.result["already_sent"] == 1, retry
    assert len(env.tg.sent(chat)) == (2 if accept else 1)  # Telegram had it: one duplicate; else none
    assert len(env.tg.sent(other)) == 1


def test_resends_are_bounded(env: Env) -> None:
    env.settings = env.settings.model_copy(update={"provider_timeout_seconds": 0.3})
    chat = new_chat()
    env.configure(CHAT_IDS=[int(chat)])
    doc, evt = cheque(env), event()
    for attempt in range(1 + MAX_RESENDS):
        env.tg.hold(chat, 1, accept=True)
        with pytest.raises(TransientError):
            env.webhook("DocChequeClosed", doc, event_id=evt)
        assert len(env.tg.sent(chat)) == attempt + 1
        time.sleep(1.0)  # the per-chat rate limit (1/s)

    final = env.webhook("DocChequeClosed", doc, event_id=evt)
    assert final.ok and final.result["unknown"] == 1 and final.result["sent"] == 0, final
    assert len(env.tg.sent(chat)) == 1 + MAX_RESENDS


def test_a_send_still_in_progress_elsewhere_is_not_duplicated(env: Env) -> None:
    """Two runs of one event at once (a redelivery racing a slow attempt): the second defers."""
    chat = new_chat()
    env.configure(CHAT_IDS=[int(chat)])
    env.tg.hold(chat, 1.5, accept=True)
    call = WebhookCall(action="DocChequeClosed", data={"uuid": cheque(env)})
    evt = event()

    async def second() -> object:
        await asyncio.sleep(0.5)  # the first run's request is on the wire by now
        return await with_integration(env, lambda i: i.handle_webhook(call), event_id=evt, close_shared=False)

    async def main() -> list[object]:
        from regos_sdk import aclose_shared

        try:
            first = with_integration(env, lambda i: i.handle_webhook(call), event_id=evt, close_shared=False)
            return await asyncio.gather(first, second(), return_exceptions=True)
        finally:
            await aclose_shared()

    first, late = asyncio.run(main())
    assert first.ok and first.result["sent"] == 1, first
    assert isinstance(late, TransientError) and "another attempt" in str(late), late
    assert len(env.tg.sent(chat)) == 1


def test_send_messages_chunk_reports_the_resend(env: Env) -> None:
    from schemas.envelope import OutgoingMessage

    env.settings = env.settings.model_copy(update={"provider_timeout_seconds": 0.5})
    chat = new_chat()
    env.tg.hold(chat, 2, accept=True)
    chunk_id = f"regos_telegram_notifier:{env.cid}:d9:0"
    messages = [OutgoingMessage(index=0, recipient=chat, message="Hi")]

    with pytest.raises(TransientError):  # the chunk is retried
        env.call(lambda i: i.send_chunk(chunk_id, messages))
    time.sleep(1.0)  # the per-chat rate limit (1/s)
    [outcome] = env.call(lambda i: i.send_chunk(chunk_id, messages))

    assert outcome.status == "accepted" and outcome.resolution == "resent", outcome
    assert len(env.tg.sent(chat)) == 2
