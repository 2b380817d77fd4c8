"""The retry policy as pure functions: statuses, headers, backoff, Retry-After parsing."""

from __future__ import annotations

import email.utils

import pytest

from convo.transports.retry import (
    MAX_DELAY,
    MAX_RETRY_AFTER,
    backoff,
    next_delay,
    retry_after,
    should_retry,
)


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 599])
def test_retryable_statuses(status: int) -> None:
    assert should_retry(status, {})


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_final_statuses(status: int) -> None:
    assert not should_retry(status, {})


def test_x_should_retry_overrides_the_status() -> None:
    assert not should_retry(503, {"x-should-retry": "false"})
    assert should_retry(400, {"x-should-retry": "true"})
    assert should_retry(503, {"x-should-retry": "maybe"})


def test_backoff_doubles_to_the_cap_with_up_to_a_quarter_off() -> None:
    assert [backoff(n, jitter=0.0) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert backoff(0, jitter=0.999) == pytest.approx(0.375, abs=1e-3)
    assert backoff(10_000, jitter=0.0) == MAX_DELAY


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after": " 3 "}, 3.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after-ms": "abc", "retry-after": "9"}, 9.0),
        ({"retry-after": "120"}, 120.0),
    ],
)
def test_retry_after_values(headers: dict[str, str], seconds: float) -> None:
    assert retry_after(headers, now=0.0) == seconds


@pytest.mark.parametrize("value", ["0", "-5", "abc", "inf", "nan", "1e308", "", "0x10", "9" * 400])
def test_unusable_retry_after_is_ignored(value: str) -> None:
    assert retry_after({"retry-after": value}, now=0.0) is None
    assert retry_after({"retry-after-ms": value}, now=0.0) is None


def test_retry_after_as_an_http_date() -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 7, usegmt=True)
    assert retry_after({"retry-after": date}, now=now) == 7.0
    past = email.utils.formatdate(now - 7, usegmt=True)
    assert retry_after({"retry-after": past}, now=now) is None


def test_next_delay_honours_the_server_exactly() -> None:
    assert next_delay(0, max_retries=2, headers={"retry-after": "2"}, now=0, jitter=0.9) == 2.0


def test_next_delay_falls_back_to_backoff() -> None:
    delay = next_delay(1, max_retries=2, headers={"retry-after": "abc"}, now=0, jitter=0.5)
    assert delay == backoff(1, jitter=0.5) == 0.875


def test_next_delay_gives_up_past_the_cap_or_the_budget() -> None:
    over = {"retry-after": str(int(MAX_RETRY_AFTER) + 1)}
    assert next_delay(0, max_retries=2, headers=over, now=0, jitter=0) is None
    at_cap = {"retry-after": str(int(MAX_RETRY_AFTER))}
    assert next_delay(0, max_retries=2, headers=at_cap, now=0, jitter=0) == MAX_RETRY_AFTER
    assert next_delay(2, max_retries=2, headers={}, now=0, jitter=0) is None
    assert next_delay(0, max_retries=0, headers={}, now=0, jitter=0) is None
