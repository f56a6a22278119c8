"""Fixtures of the Telegram tests: module-wide fakes, and a fresh connected integration + bot per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.fakes.regos import FakeRegos
from tests.fakes.telegram import FakeTelegram
from tests.telegram import KEY, Env, make_settings


@pytest.fixture(scope="module")
def regos() -> Iterator[FakeRegos]:
    fake = FakeRegos().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def tg() -> Iterator[FakeTelegram]:
    fake = FakeTelegram().start()
    yield fake
    fake.stop()


@pytest.fixture
def env(redis_url: str, regos: FakeRegos, tg: FakeTelegram) -> Env:
    cid = uuid.uuid4().hex
    token = tg.add_bot(f"{uuid.uuid4().int % 10**10}:AA{uuid.uuid4().hex}")
    regos.add_connected_integration(cid, KEY, settings={"BOT_TOKEN": token})
    return Env(cid, token, make_settings(redis_url, regos, tg), regos, tg)
