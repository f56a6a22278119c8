"""Fakes shared by the SMS tests that drive an integration directly (no queue, no worker)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.regos import FakeRegos
from tests.fakes.sms import FakeEskiz
from tests.sms import ESKIZ_EMAIL, ESKIZ_PASSWORD


@pytest.fixture(scope="module")
def regos() -> Iterator[FakeRegos]:
    fake = FakeRegos().start()
    yield fake
    fake.stop()


@pytest.fixture
def eskiz() -> Iterator[FakeEskiz]:
    fake = FakeEskiz(email=ESKIZ_EMAIL, password=ESKIZ_PASSWORD).start()
    yield fake
    fake.stop()
