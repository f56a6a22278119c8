"""SendMessages chunks: outcomes, exactly-once, photos, long texts, permanent chat errors."""

from __future__ import annotations

import logging

from schemas.envelope import OutgoingMessage
from tests.telegram import Env, new_chat


def msg(index: int, chat: str, text: str, image: str | None = None) -> OutgoingMessage:
    return OutgoingMessage(index=index, recipient=chat, message=text, image_url=image)


def chunk(env: Env, name: str = "d1") -> str:
    return f"regos_telegram_notifier:{env.cid}:{name}:0"


def test_chunk_outcomes_and_exactly_once(env: Env) -> None:
    a, b, blocked = new_chat(), new_chat(), new_chat()
    env.tg.block(blocked)
    messages = [msg(0, a, "Salom <a>!"), msg(1, b, "Hi"), msg(2, blocked, "Nope")]
    cid = chunk(env)

    outcomes = env.call(lambda i: i.send_chunk(cid, messages))

    assert [o.status for o in outcomes] == ["accepted", "accepted", "failed"]
    assert outcomes[0].recipient == "*" * (len(a) - 4) + a[-4:]
    assert outcomes[0].provider_id == str(env.tg.sent(a)[0]["message_id"])
    assert "blocked" in outcomes[2].error and blocked not in outcomes[2].error
    assert env.tg.sent(a)[0]["text"] == "Salom <a>!" and env.tg.sent(a)[0]["parse_mode"] is None
    assert env.chat_ids() == []  # SendMessages never edits CHAT_IDS

    again = env.call(lambda i: i.send_chunk(cid, messages))
    assert [o.status for o in again] == ["accepted", "accepted", "failed"]
    assert again[0].provider_id == outcomes[0].provider_id
    assert len(env.tg.sent(a)) == 1 and len(env.tg.sent(b)) == 1


def test_long_text_is_split_and_photo_caption_overflows_into_messages(env: Env) -> None:
    chat, photo_chat = new_chat(), new_chat()
    long_text = "\n".join(f"Line {n:04d} " + "x" * 90 for n in range(90))  # ~9 000 characters
    outcomes = env.call(
        lambda i: i.send_chunk(
            chunk(env),
            [msg(0, chat, long_text), msg(1, photo_chat, "Caption " * 200, image="https://example.com/p.jpg")],
        )
    )

    assert [o.status for o in outcomes] == ["accepted", "accepted"]
    parts = env.tg.texts(chat)
    assert len(parts) == 3 and all(len(p) <= 4096 for p in parts)
    assert "\n".join(parts) == long_text
    photo, *rest = env.tg.sent(photo_chat)
    assert photo["method"] == "sendPhoto" and len(photo["text"]) <= 1024
    assert rest and all(m["method"] == "sendMessage" for m in rest)
    assert " ".join([photo["text"], *(m["text"] for m in rest)]).split() == ("Caption " * 200).split()


def test_photo_without_text(env: Env) -> None:
    chat = new_chat()
    outcomes = env.call(lambda i: i.send_chunk(chunk(env), [msg(0, chat, "", image="https://example.com/a.png")]))
    assert outcomes[0].status == "accepted"
    assert env.tg.sent(chat)[0]["photo"] == "https://example.com/a.png"


def test_bot_token_never_reaches_httpx_logs(env: Env, caplog) -> None:
    chat = new_chat()
    # logconfig raises "httpx2" to WARNING in the app; the filter must hold even at INFO
    with caplog.at_level(logging.INFO, logger="httpx2"):
        env.call(lambda i: i.send_chunk(chunk(env), [msg(0, chat, "hello")]))
    httpx_lines = [r.getMessage() for r in caplog.records if r.name == "httpx2"]
    assert any("/bot***/sendMessage" in line for line in httpx_lines), httpx_lines
    assert not any(env.token in r.getMessage() for r in caplog.records)
