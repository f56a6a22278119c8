"""E-mail end to end: the ingress, a real Celery worker, a real SMTP server on loopback."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.email.conftest import PASSWORD, smtp_settings
from tests.fakes.smtp import FakeSmtp
from tests.harness import Stack, wait_until

KEY = "email_sender"
# The plain fake takes AUTH without TLS on purpose (loopback only); aiosmtpd warns per session.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def _send(stack: Stack, cid: str, data: list[dict]) -> str:
    answer = stack.call(KEY, "SendMessages", cid, data)
    assert answer.status_code == 200, answer.text
    return answer.json()["result"]["task_id"]


def _rows(view: dict) -> dict[int, dict]:
    return {row["index"]: row for row in view["result"]["messages"]}


def test_500_messages_each_delivered_once_with_extras_echoed(stack: Stack, smtp: FakeSmtp) -> None:
    cid = stack.new_cid(KEY, smtp_settings(smtp))
    tag = cid[:8]
    data = [
        {
            "recipient": f"Buyer.{i}@Example.COM".replace("Buyer", f"b{tag}"),
            "message": f"promo {i}",
            "subject": "Aksiya",
            "campaign_recipient_id": 1000 + i,
        }
        for i in range(500)
    ]
    data[7] = {"recipient": "not an address", "message": "x", "campaign_recipient_id": 7}
    view = stack.wait_task(_send(stack, cid, data), timeout=60)
    assert view["state"] == "SUCCESS", view
    result = view["result"]
    assert (result["accepted"], result["invalid"], result["failed"], result["unknown"]) == (499, 1, 0, 0), result[
        "messages"
    ][:2]
    rows = _rows(view)
    assert rows[7]["status"] == "invalid" and "e-mail address" in rows[7]["error"]
    assert rows[3]["extra"] == {"campaign_recipient_id": 1003}
    # The server's side: every valid message exactly once, each with its own Message-ID.
    mine = [d for d in smtp.delivered if d.rcpt_tos[0].startswith(f"b{tag}.")]
    assert len(mine) == 499
    ids = Counter(d.message_id for d in mine)
    assert len(ids) == 499 and max(ids.values()) == 1
    assert {d.rcpt_tos[0] for d in mine} == {f"b{tag}.{i}@example.com" for i in range(500) if i != 7}
    assert rows[3]["provider_id"] in ids and "@example.com>" in rows[3]["provider_id"]
    assert all(d.mail_from == "shop@example.com" for d in mine)
    # Secrets: nowhere in the result or the worker's log.
    assert PASSWORD not in json.dumps(view) and PASSWORD not in stack.worker.log()


def test_5xx_mailbox_fails_and_4xx_is_retried_to_success(stack: Stack, smtp: FakeSmtp) -> None:
    cid = stack.new_cid(KEY, smtp_settings(smtp))
    gone, busy, fine = f"gone.{cid[:8]}@example.org", f"busy.{cid[:8]}@example.org", f"ok.{cid[:8]}@example.org"
    smtp.answer_rcpt(gone, "550 5.1.1 <gone>: Recipient address rejected: User unknown")
    smtp.answer_rcpt(busy, "451 4.3.0 Mailbox temporarily unavailable", times=2)
    data = [{"recipient": a, "message": "Salom"} for a in (gone, busy, fine)]
    view = stack.wait_task(_send(stack, cid, data), timeout=40)
    rows = _rows(view)
    assert rows[0]["status"] == "failed" and "550 5.1.1" in rows[0]["error"] and "User unknown" in rows[0]["error"]
    assert rows[1]["status"] == "accepted" and rows[2]["status"] == "accepted", rows
    assert smtp._take_rcpt_answer(busy) is None  # both scripted 451s were answered
    assert len(smtp.to(busy)) == 1 and len(smtp.to(fine)) == 1 and smtp.to(gone) == []


def test_connection_dropped_after_data_is_sent_again_with_the_same_message_id(stack: Stack, smtp: FakeSmtp) -> None:
    cid = stack.new_cid(KEY, smtp_settings(smtp))
    address = f"drop.{cid[:8]}@example.org"
    smtp.drop_after_data(1)
    view = stack.wait_task(_send(stack, cid, [{"recipient": address, "message": "Chek"}]), timeout=40)
    assert _rows(view)[0]["status"] == "accepted" and _rows(view)[0]["resolution"] == "resent", view
    copies = smtp.to(address)
    assert len(copies) == 2 and copies[0].message_id == copies[1].message_id  # the documented rule
    assert copies[0].mail["Date"] is not None


def test_relay_hanging_after_data_times_out_and_the_mail_is_sent_again(stack: Stack, smtp: FakeSmtp) -> None:
    cid = stack.new_cid(KEY, smtp_settings(smtp))
    address = f"hang.{cid[:8]}@example.org"
    smtp.hang_data = 30  # far past PROVIDER_TIMEOUT_SECONDS (3 s in the test stack)
    try:
        task_id = _send(stack, cid, [{"recipient": address, "message": "Chek"}])
        wait_until(lambda: len(smtp.to(address)) == 1, what="the message received by the hanging relay")
    finally:
        smtp.hang_data = 0.0
    view = stack.wait_task(task_id, timeout=40)
    assert _rows(view)[0]["status"] == "accepted", view
    copies = smtp.to(address)
    assert len(copies) == 2 and copies[0].message_id == copies[1].message_id


def test_auth_failure_fails_the_chunk_at_once(stack: Stack, smtp: FakeSmtp) -> None:
    cid = stack.new_cid(KEY, smtp_settings(smtp, SMTP_PASSWORD="wrong-password-x"))
    view = stack.wait_task(_send(stack, cid, [{"recipient": "a@example.org", "message": "x"}]), timeout=30)
    row = _rows(view)[0]
    assert row["status"] == "failed" and "535 5.7.8" in row["error"] and "SMTP_PASSWORD" in row["error"], view
    assert "wrong-password-x" not in json.dumps(view)


def test_starttls_html_mail_is_multipart_with_encoded_subject(stack: Stack, smtp_starttls: FakeSmtp) -> None:
    cid = stack.new_cid(KEY, smtp_settings(smtp_starttls, "starttls", SMTP_REPLY_TO="help@example.com"))
    assert stack.call(KEY, "Connect", cid).json() == {"ok": True, "result": {"status": "connected"}}
    address = f"html.{cid[:8]}@example.org"
    item = {
        "recipient": address,
        "message": "<p>Chegirma <b>10%</b> &amp; bonus</p>",
        "subject": "Yangi aksiya — 10%",
        "is_html": True,
    }
    view = stack.wait_task(_send(stack, cid, [item]), timeout=30)
    assert _rows(view)[0]["status"] == "accepted", view
    (got,) = smtp_starttls.to(address)
    mail = got.mail
    assert mail.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]
    assert "Chegirma 10% & bonus" in mail.get_body(("plain",)).get_content()
    assert str(mail["Subject"]) == "Yangi aksiya — 10%" and b"=?utf-8?" in got.raw.split(b"\r\n\r\n")[0]
    assert mail["From"].addresses[0].display_name == "Do\u2018kon «Baraka»"
    assert str(mail["Reply-To"]) == "help@example.com"


def test_connect_answers_the_servers_words(stack: Stack, smtp_starttls: FakeSmtp, smtp_untrusted: FakeSmtp) -> None:
    bad = stack.new_cid(KEY, smtp_settings(smtp_starttls, "starttls", SMTP_PASSWORD="nope-nope"))
    answer = stack.call(KEY, "Connect", bad).json()
    assert answer["ok"] is False and "535 5.7.8" in answer["result"]["description"], answer
    untrusted = stack.new_cid(KEY, smtp_settings(smtp_untrusted, "tls"))
    answer = stack.call(KEY, "Connect", untrusted).json()
    assert answer["ok"] is False and "not trusted" in answer["result"]["description"], answer
    plain = stack.new_cid(KEY, smtp_settings(smtp_starttls, "none"))  # AUTH only after STARTTLS
    answer = stack.call(KEY, "Connect", plain).json()
    assert answer["ok"] is False and "AUTH" in answer["result"]["description"], answer


def test_sigkill_mid_send_loses_no_message(stack: Stack, smtp: FakeSmtp) -> None:
    cid = stack.new_cid(KEY, smtp_settings(smtp))
    tag = f"k{cid[:8]}"
    smtp.hang_data = 0.03  # slow enough to kill the worker in the middle
    try:
        data = [{"recipient": f"{tag}.{i}@example.org", "message": f"m {i}"} for i in range(500)]
        task_id = _send(stack, cid, data)
        wait_until(lambda: len([d for d in smtp.delivered if tag in d.rcpt_tos[0]]) >= 100, what="send under way")
        stack.worker.kill()
        stack.worker.start()
        view = stack.wait_task(task_id, timeout=90)
    finally:
        smtp.hang_data = 0.0
    assert view["result"]["accepted"] == 500, view["result"]
    ids = Counter(d.message_id for d in smtp.delivered if tag in d.rcpt_tos[0])
    assert len(ids) == 500  # not one lost
    # Re-sent after the crash: only messages whose 2xx was not yet recorded, same Message-ID.
    assert sum(ids.values()) - 500 <= 16 * 3, ids.most_common(3)
