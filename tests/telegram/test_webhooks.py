"""REGOS retail webhooks → messages in the subscribers' chats (FakeRegos + FakeTelegram over HTTP)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from integrations.errors import PermanentError, SettingsError
from schemas.envelope import IntegrationErrorResponse, IntegrationSuccessResponse, WebhookCall
from tests.telegram import Env, new_chat

# 2026-11-26 05:00 UTC = 10:00 in Tashkent (UTC+5)
WHEN = int(datetime(2026, 11, 26, 5, 0, tzinfo=UTC).timestamp())


def seed_cheque(
    env: Env, *, amount: float = 1_250_000, is_return: bool = False, stock_id: int = 7, code: str = "A-1042"
):
    cash_id = uuid.uuid4().int % 10**6
    env.regos.add_operating_cash(cash_id, stock_id=stock_id, stock_name="Chilonzor <filial>")
    session = env.regos.add_session(operating_cash_id=cash_id, start_amount=50_000, code="S-77")
    cheque = env.regos.add_cheque(amount=amount, session=session["uuid"], date=WHEN, code=code, is_return=is_return)
    return cheque, session


def test_cheque_closed_reaches_every_subscriber_with_formatted_content(env: Env) -> None:
    a, b = new_chat(), new_chat()
    env.configure(CHAT_IDS=[int(a), int(b)])
    cheque, _ = seed_cheque(env)

    result = env.webhook("DocChequeClosed", cheque["uuid"], event_id=f"evt-{uuid.uuid4().hex}")

    assert isinstance(result, IntegrationSuccessResponse), result
    assert result.result["sent"] == 2 and result.result["status"] == "done"
    for chat in (a, b):
        [msg] = env.tg.sent(chat)
        assert msg["parse_mode"] == "HTML"
        text = msg["text"]
        assert "Чек закрыт" in text
        assert "A-1042" in text
        assert "1 250 000.00" in text
        assert "26.11.2026 10:00" in text
        assert "Возврат" not in text


def test_cheque_canceled_return_flag_and_escaping(env: Env) -> None:
    chat = new_chat()
    env.configure(CHAT_IDS=[int(chat)])
    cheque, _ = seed_cheque(env, amount=999.5, is_return=True, code="<R&1>")

    result = env.webhook("DocChequeCanceled", cheque["uuid"], event_id=f"evt-{uuid.uuid4().hex}")

    assert result.ok, result
    [msg] = env.tg.sent(chat)
    assert "Чек отменён" in msg["text"] and "Возврат" in msg["text"] and "999.50" in msg["text"]
    assert "&lt;R&amp;1&gt;" in msg["text"]  # REGOS text is escaped (the fake rejects bad HTML)


def test_session_opened_and_closed(env: Env) -> None:
    chat = new_chat()
    env.configure(CHAT_IDS=[int(chat)])
    env.regos.add_operating_cash(901, stock_id=3)
    opened = env.regos.add_session(operating_cash_id=901, start_amount=100_000, code="S-15", start_date=WHEN)
    closed = env.regos.add_session(
        operating_cash_id=901,
        start_amount=100_000,
        code="S-16",
        start_date=WHEN,
        closed=True,
        close_amount=2_345_678.9,
        close_date=WHEN + 8 * 3600 + 30 * 60,
    )

    assert env.webhook("DocSessionOpened", opened["uuid"], event_id=f"evt-{uuid.uuid4().hex}").ok
    assert env.webhook("DocSessionClosed", closed["uuid"], event_id=f"evt-{uuid.uuid4().hex}").ok

    first, second = env.tg.texts(chat)
    assert "Смена открыта" in first and "S-15" in first and "100 000.00" in first and "26.11.2026 10:00" in first
    assert "Закрыта" not in first
    assert "Смена закрыта" in second and "S-16" in second
    assert "2 345 678.90" in second and "26.11.2026 18:30" in second


def test_document_not_found_gives_a_short_message(env: Env) -> None:
    chat = new_chat()
    env.configure(CHAT_IDS=[int(chat)])
    missing = str(uuid.uuid4())

    assert env.webhook("DocChequeClosed", missing, event_id=f"evt-{uuid.uuid4().hex}").ok

    [text] = env.tg.texts(chat)
    assert missing in text and "не найден в REGOS" in text


def test_unsupported_webhook_is_a_result_not_an_exception(env: Env) -> None:
    result = env.call(lambda i: i.handle_webhook(WebhookCall(action="DocOrderCreated", data={"uuid": "x"})))
    assert isinstance(result, IntegrationErrorResponse)
    assert result.result.error == 400 and "unsupported webhook DocOrderCreated" in result.result.description


def test_snake_case_event_names_are_accepted(env: Env) -> None:
    chat = new_chat()
    env.configure(CHAT_IDS=[int(chat)])
    cheque, _ = seed_cheque(env)
    assert env.webhook("doc_cheque_closed", cheque["uuid"], event_id=f"evt-{uuid.uuid4().hex}").ok
    assert len(env.tg.sent(chat)) == 1


def test_same_event_three_times_sends_once_per_subscriber(env: Env) -> None:
    chats = [new_chat() for _ in range(3)]
    env.configure(CHAT_IDS=[int(c) for c in chats])
    cheque, _ = seed_cheque(env)
    event = f"evt-{uuid.uuid4().hex}"

    results = [env.webhook("DocChequeClosed", cheque["uuid"], event_id=event) for _ in range(3)]

    assert [r.result["sent"] for r in results] == [3, 0, 0]
    assert [r.result["already_sent"] for r in results] == [0, 3, 3]
    for chat in chats:
        assert len(env.tg.sent(chat)) == 1


def test_no_subscribers_and_missing_token(env: Env) -> None:
    cheque, _ = seed_cheque(env)
    result = env.webhook("DocChequeClosed", cheque["uuid"], event_id="e1")
    assert result.ok and result.result["status"] == "no subscribers"

    env.configure(BOT_TOKEN="")
    env.regos.settings[env.cid].pop("BOT_TOKEN")
    env.call(lambda i: _drop_cache(i))
    with pytest.raises(SettingsError, match="BOT_TOKEN is missing"):
        env.webhook("DocChequeClosed", cheque["uuid"], event_id="e2")


async def _drop_cache(integration) -> None:
    async with integration.ctx.regos() as api:
        await api.integrations.connected_integration_setting.invalidate_cache()


@pytest.mark.parametrize("value", ["false", "0", "FALSE", " False "])
def test_cheque_notification_off(env: Env, value: str) -> None:
    chat = new_chat()
    env.configure(CHAT_IDS=[int(chat)], CHEQUE_NOTIFICATION=value)
    cheque, session = seed_cheque(env)

    result = env.webhook("DocChequeClosed", cheque["uuid"], event_id=f"evt-{uuid.uuid4().hex}")

    assert result.ok and result.result["status"] == "cheque notifications are off"
    assert env.tg.sent(chat) == []
    # sessions are still notified
    assert env.webhook("DocSessionOpened", session["uuid"], event_id=f"evt-{uuid.uuid4().hex}").ok
    assert len(env.tg.sent(chat)) == 1


def test_stock_filter_lets_matching_stock_through(env: Env) -> None:
    chat = new_chat()
    env.configure(CHAT_IDS=[int(chat)], STOCK_IDS="3, 7")
    cheque, session = seed_cheque(env, stock_id=7)

    assert env.webhook("DocChequeClosed", cheque["uuid"], event_id=f"evt-{uuid.uuid4().hex}").result["sent"] == 1
    assert env.webhook("DocSessionClosed", session["uuid"], event_id=f"evt-{uuid.uuid4().hex}").result["sent"] == 1
    texts = env.tg.texts(chat)
    assert all("Chilonzor &lt;filial&gt;" in t for t in texts)


def test_stock_filter_skips_other_stocks(env: Env) -> None:
    chat = new_chat()
    env.configure(CHAT_IDS=[int(chat)], STOCK_IDS="3")
    cheque, session = seed_cheque(env, stock_id=7)

    for action, doc in (("DocChequeClosed", cheque), ("DocSessionOpened", session)):
        result = env.webhook(action, doc["uuid"], event_id=f"evt-{uuid.uuid4().hex}")
        assert result.ok and result.result["status"] == "skipped"
        assert "stock 7" in result.result["reason"]
    assert env.tg.sent(chat) == []


def test_undeterminable_stock_is_a_permanent_error(env: Env) -> None:
    chat = new_chat()
    env.configure(CHAT_IDS=[int(chat)], STOCK_IDS="7")
    orphan = env.regos.add_cheque(amount=10, session=str(uuid.uuid4()), date=WHEN)  # session unknown to REGOS
    no_session = env.regos.add_cheque(amount=10, session=None, date=WHEN)
    lost_cash = env.regos.add_session(operating_cash_id=424242)

    for action, doc in (
        ("DocChequeClosed", orphan),
        ("DocChequeClosed", no_session),
        ("DocSessionOpened", lost_cash),
        ("DocChequeClosed", {"uuid": str(uuid.uuid4())}),  # document itself not found
    ):
        with pytest.raises(PermanentError, match="STOCK_IDS cannot be applied"):
            env.webhook(action, doc["uuid"], event_id=f"evt-{uuid.uuid4().hex}")
    assert env.tg.sent(chat) == []
