"""Documented Telegram update kinds (tests/contracts/telegram/*.json) through the notifier's handler.

Each file: `source` (the Bot API documentation it follows), `update` (the body Telegram POSTs),
optional `settings` (the connected integration's settings in REGOS) and `expect` (the handler's
`status`, and the replies each chat must get). A new example is one file, no code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from integrations.telegram.updates import USED_KINDS, parse_update
from schemas.envelope import ExternalRequest
from tests.telegram import Env

CONTRACTS = Path(__file__).resolve().parent.parent / "contracts" / "telegram"
EXAMPLES = sorted(CONTRACTS.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def test_the_examples_are_there() -> None:
    kinds = {parse_update(load(p)["update"]).kind for p in EXAMPLES}
    assert set(USED_KINDS) <= kinds and len(kinds) >= 10, kinds


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_documented_update_through_the_handler(env: Env, path: Path) -> None:
    example = load(path)
    assert example["source"].startswith("https://core.telegram.org/")
    update = parse_update(example["update"])
    assert update.update_id == example["update"]["update_id"]
    if example.get("settings"):
        env.configure(**example["settings"])

    request = ExternalRequest(method="POST", path=env.cid, body=example["update"])
    result = env.call(lambda i: i.handle_external(request))

    assert result.ok, result
    assert result.result["status"] == example["expect"]["status"], result
    for chat, replies in example["expect"]["replies"].items():
        assert len(env.tg.sent(chat, token=env.token)) == replies, (chat, env.tg.sent(chat, token=env.token))
    if example["expect"]["status"] == "ignored":
        assert not [a for a in env.tg.attempts if a["token"] == env.token]  # nothing sent, nothing tried
