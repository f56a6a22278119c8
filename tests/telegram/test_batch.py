"""Issue 15: the notifier handles a batch of webhooks of one connected integration at once.

`handle_webhooks` directly against FakeRegos and FakeTelegram over HTTP (no queue): settings and
each REGOS list fetched once per batch, one result or exception per event, a poisoned event
failing alone.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson

from integrations.base import IntegrationBase, IntegrationContext
from integrations.errors import PermanentError, TransientError
from regos_sdk.errors import RegosAPIError
from schemas.envelope import IntegrationErrorResponse, IntegrationSuccessResponse, WebhookCall, WebhookEvent
from tests.telegram import Env, new_chat
from tests.telegram.batching import batch, event_id, regos_calls, webhook

WHEN = int(datetime(2026, 11, 26, 5, 0, tzinfo=UTC).timestamp())


def shop(env: Env, *, stock_id: int = 7) -> str:
    """An operating cash of `stock_id` and an open session on it; returns the session uuid."""
    cash_id = uuid.uuid4().int % 10**6
    env.regos.add_operating_cash(cash_id, stock_id=stock_id, stock_name=f"Stock {stock_id}")
    return env.regos.add_session(operating_cash_id=cash_id, code="S-1", start_date=WHEN)["uuid"]


def test_one_regos_read_per_list_and_one_result_per_event(env: Env) -> None:
    chats = [new_chat(), new_chat()]
    env.configure(CHAT_IDS=[int(c) for c in chats])
    session = shop(env)
    cheques = [env.regos.add_cheque(amount=100 + n, session=session, code=f"B-{n}")["uuid"] for n in range(5)]
    events = [webhook("DocChequeClosed", c) for c in cheques] + [webhook("DocSessionOpened", session)]
    settings_before = regos_calls(env, "ConnectedIntegrationSetting/Get")

    outcomes = batch(env, events)

    assert regos_calls(env, "DocCheque/Get") == 1  # one read for the five uuids
    assert regos_calls(env, "DocCashSession/Get") == 1
    assert regos_calls(env, "OperatingCash/Get") == 0  # no STOCK_IDS: no stock needed
    assert regos_calls(env, "ConnectedIntegrationSetting/Get") - settings_before <= 1
    assert len(outcomes) == len(events)
    for outcome in outcomes:
        assert isinstance(outcome, IntegrationSuccessResponse), outcome
        assert outcome.result["status"] == "done" and outcome.result["sent"] == 2, outcome
    assert outcomes[0].result["event"] == "DocChequeClosed" and outcomes[-1].result["event"] == "DocSessionOpened"
    for chat in chats:
        [digest] = env.tg.texts(chat)  # six notifications, one message per chat
        assert [digest.index(f"B-{n}") for n in range(5)] == sorted(digest.index(f"B-{n}") for n in range(5))
        assert digest.index("B-4") < digest.index("Смена открыта")


def test_stock_filter_reads_sessions_and_cash_registers_once_per_batch(env: Env) -> None:
    chat = new_chat()
    env.configure(CHAT_IDS=[int(chat)], STOCK_IDS="7")
    inside, outside = shop(env, stock_id=7), shop(env, stock_id=8)
    events = [
        webhook("DocChequeClosed", env.regos.add_cheque(session=s, code=f"F-{n}")["uuid"])
        for n, s in enumerate([inside, outside, inside, outside])
    ]

    outcomes = batch(env, events)

    assert [regos_calls(env, m) for m in ("DocCheque/Get", "DocCashSession/Get", "OperatingCash/Get")] == [1, 1, 1]
    assert [o.result["status"] for o in outcomes] == ["done", "skipped", "done", "skipped"]
    assert "stock 8 is not in STOCK_IDS" in outcomes[1].result["reason"]
    [text] = env.tg.texts(chat)
    assert "F-0" in text and "F-2" in text and "F-1" not in text and "F-3" not in text


def test_poisoned_events_fail_alone(env: Env) -> None:
    chat = new_chat()
    env.configure(CHAT_IDS=[int(chat)], STOCK_IDS="7")
    session = shop(env)
    good = env.regos.add_cheque(session=session, code="OK-1")["uuid"]
    orphan = env.regos.add_cheque(session=str(uuid.uuid4()), code="ORPHAN")["uuid"]  # its session is unknown
    events = [
        webhook("DocChequeClosed", good),
        webhook("DocChequeClosed", str(uuid.uuid4())),  # REGOS does not return it
        WebhookEvent(call=WebhookCall(action="DocChequeClosed", data={"uuid": 42}), event_id=event_id()),
        WebhookEvent(call=WebhookCall(action="DocOrderCreated", data={"uuid": good}), event_id=event_id()),
        webhook("DocChequeClosed", orphan),
        webhook("DocSessionClosed", session),
    ]

    ok, missing, malformed, unsupported, lost, closed = batch(env, events)

    assert isinstance(missing, PermanentError) and "REGOS does not find the document" in str(missing)
    assert isinstance(lost, PermanentError) and "not found in REGOS" in str(lost)
    assert isinstance(malformed, IntegrationErrorResponse) and "carries no data.uuid" in malformed.result.description
    assert isinstance(unsupported, IntegrationErrorResponse) and unsupported.result.error == 400
    assert ok.result["sent"] == 1 and closed.result["sent"] == 1, (ok, closed)
    [text] = env.tg.texts(chat)
    assert "OK-1" in text and "Смена закрыта" in text and "ORPHAN" not in text
    assert regos_calls(env, "DocCheque/Get") == 1


def test_a_list_refused_by_regos_fails_only_the_refused_uuid(env: Env) -> None:
    """REGOS refuses a whole DocCheque/Get in-band (HTTP 200, ok false: shared/docs/regos-contract.md §1);
    each uuid is then asked alone, and only the one REGOS refuses again fails."""
    chat = new_chat()
    env.configure(CHAT_IDS=[int(chat)])
    cheques = [env.regos.add_cheque(code=f"R-{n}")["uuid"] for n in range(3)]
    refusal = {"ok": False, "result": {"error": 1220, "description": "Invalid uuid"}}
    env.regos.fail_next(2, 200, refusal, path_contains=f"/{env.cid}/v1/DocCheque/Get")  # the list, then R-0 alone

    refused, *sent = batch(env, [webhook("DocChequeClosed", c) for c in cheques])

    assert isinstance(refused, RegosAPIError) and "Invalid uuid" in str(refused), refused
    assert [o.result["sent"] for o in sent] == [1, 1]
    assert regos_calls(env, "DocCheque/Get") == 1 + 3
    [text] = env.tg.texts(chat)
    assert "R-1" in text and "R-2" in text and "R-0" not in text


def test_a_chat_that_must_wait_defers_its_events(env: Env) -> None:
    """A 429 beyond the inline wait defers that chat: the events with a notification for it raise
    TransientError with Telegram's wait, so each is retried alone (the ledger skips what was sent)."""
    chat = new_chat()
    env.configure(CHAT_IDS=[int(chat)])
    env.tg.rate_limit(chat, retry_after=30, times=3)
    events = [webhook("DocChequeClosed", env.regos.add_cheque(code=f"W-{n}")["uuid"]) for n in range(2)]

    outcomes = batch(env, events)

    assert all(isinstance(o, TransientError) and 25 < (o.retry_after or 0) <= 30 for o in outcomes), outcomes
    assert env.tg.sent(chat) == []


def test_no_subscribers_needs_no_document(env: Env) -> None:
    env.configure(CHAT_IDS=[])
    events = [webhook("DocChequeClosed", str(uuid.uuid4())) for _ in range(3)]
    outcomes = batch(env, events)
    assert [o.result["status"] for o in outcomes] == ["no subscribers"] * 3
    assert regos_calls(env, "DocCheque/Get") == 0


class _Recorder(IntegrationBase):
    """The default `handle_webhooks`: each event alone, with its own event id in the context."""

    key = "recorder"

    async def handle_webhook(self, webhook: WebhookCall) -> IntegrationSuccessResponse:
        if webhook.action == "Boom":
            raise TransientError(f"{self.key}: boom for {self.ctx.event_id}")
        return IntegrationSuccessResponse(result={"event_id": self.ctx.event_id, "task_id": self.ctx.task_id})


def test_default_handle_webhooks_runs_each_event_alone(env: Env) -> None:
    events = [
        WebhookEvent(call=WebhookCall(action="A"), event_id="e1", task_id="t1"),
        WebhookEvent(call=WebhookCall(action="Boom"), event_id="e2", task_id="t2"),
        WebhookEvent(call=WebhookCall(action="A"), event_id="e3"),
    ]

    async def run(integration: IntegrationBase) -> list:
        ctx: IntegrationContext = integration.ctx
        return await _Recorder(ctx).handle_webhooks(events)

    first, boom, third = env.call(run)
    assert first.result == {"event_id": "e1", "task_id": "t1"}
    assert isinstance(boom, TransientError) and "boom for e2" in str(boom)
    assert third.result["event_id"] == "e3" and third.result["task_id"].startswith("task-")  # the batch's own


def test_a_single_webhook_reports_each_chat(env: Env) -> None:
    chats = [new_chat(), new_chat()]
    env.configure(CHAT_IDS=[int(c) for c in chats])
    doc = env.regos.add_cheque(code="ONE")["uuid"]
    result = env.webhook("DocChequeClosed", doc, event_id=event_id())
    assert [c["status"] for c in result.result["chats"]] == ["sent", "sent"]
    assert all("digest" not in c and c["message_id"] for c in result.result["chats"])
    assert chats[0] not in orjson.dumps(result.result).decode()  # chat ids are masked
