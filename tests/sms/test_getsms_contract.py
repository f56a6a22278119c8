"""GetSMS's documented answers (tests/contracts/getsms/*.json) through the gateway's own parser.

A new example is one file: `call` (send / status), `answer` (the JSON GetSMS sends with HTTP
200) and `expect`: a list (one item per element) or `{"refused": error_no, "text": ...}`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from integrations.getsms import client

FIXTURES = sorted((Path(__file__).resolve().parents[1] / "contracts" / "getsms").glob("*.json"))


def test_there_are_fixtures() -> None:
    assert len(FIXTURES) >= 10


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_documented_answer(path: Path) -> None:
    case: dict[str, Any] = json.loads(path.read_text())
    answer, expect = case["answer"], case["expect"]
    assert case["source"]

    def parse() -> list[Any]:
        if case["call"] == "send":
            return [vars(a) for a in client.parse_send_answer(answer, len(answer))]
        return client.parse_status_answer(answer)

    if isinstance(expect, dict):
        with pytest.raises(client.GetSmsRefused) as info:
            parse()
        assert (info.value.error_no, info.value.text) == (expect["refused"], expect["text"])
        return
    parsed = parse()
    assert len(parsed) == len(expect)
    for got, want in zip(parsed, expect, strict=True):
        assert {k: (str(got[k]) if k in ("request_id", "message_id") else got[k]) for k in want} == want


def test_answer_that_cannot_be_matched_is_unknown_not_accepted() -> None:
    from integrations.sms.http import OutcomeUnknown

    with pytest.raises(OutcomeUnknown):
        client.parse_send_answer([{"request_id": 1}], 2)  # fewer elements than messages
    with pytest.raises(OutcomeUnknown):
        client.parse_send_answer({"status": "ok"}, 1)  # not an array
    with pytest.raises(OutcomeUnknown):
        client.parse_send_answer([{"recipient": 998901234567}], 1)  # neither id nor error
