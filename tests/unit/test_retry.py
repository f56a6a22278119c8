"""The retry countdown: capped exponential backoff, equal jitter, the other side's wait honoured."""

from __future__ import annotations

import pytest

from settings import Settings
from workers.retry import countdown, describe, is_retryable, retry_after_of


@pytest.fixture
def settings() -> Settings:
    return Settings(
        environment="test",
        retry_backoff_base_seconds=1.0,
        retry_backoff_max_seconds=40.0,
        visibility_timeout_seconds=60,
    )


@pytest.mark.parametrize("retries", range(8))
def test_wait_lies_between_half_the_ceiling_and_the_ceiling(settings: Settings, retries: int) -> None:
    ceiling = min(2.0**retries, settings.max_retry_countdown_seconds)
    waits = [countdown(retries, None, settings) for _ in range(200)]
    assert all(ceiling / 2 <= w <= ceiling for w in waits)
    assert max(waits) - min(waits) > ceiling / 10  # jittered, not a constant


def test_ceiling_stays_below_the_visibility_timeout(settings: Settings) -> None:
    assert settings.max_retry_countdown_seconds < settings.visibility_timeout_seconds
    assert countdown(30, None, settings) <= settings.max_retry_countdown_seconds


def test_retry_after_is_a_floor(settings: Settings) -> None:
    assert countdown(0, 7.5, settings) >= 7.5


def test_retry_after_is_capped_by_the_visibility_ceiling(settings: Settings) -> None:
    assert countdown(0, 3600, settings) == settings.max_retry_countdown_seconds


def test_retryable_and_retry_after_are_read_from_the_error() -> None:
    class Slow(Exception):
        retryable = True
        retry_after = "2"

    assert is_retryable(Slow()) and retry_after_of(Slow()) == 2.0
    assert not is_retryable(ValueError()) and retry_after_of(ValueError()) is None


def test_describe_names_the_type_and_is_bounded() -> None:
    assert describe(KeyError("x")) == "KeyError: 'x'"
    assert len(describe(RuntimeError("y" * 5000))) == 2000
