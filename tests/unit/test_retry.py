"""Unit tests of the retry policy: backoff, jitter bounds, cap, attempt and age limits, HTTP outcome classes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tmf_common.retry import WEBHOOK_RETRY_POLICY, FailureKind, RetryPolicy, classify_http_outcome

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ALMOST_ONE = 1 - 1e-12


def policy(**overrides: object) -> RetryPolicy:
    arguments: dict[str, object] = {
        "max_attempts": 5,
        "first_delay": timedelta(seconds=1),
        "multiplier": 2.0,
        "max_delay": timedelta(seconds=10),
        "jitter": 0.0,
        "max_age": None,
    }
    arguments.update(overrides)
    return RetryPolicy(**arguments)  # type: ignore[arg-type]


def seconds(value: timedelta) -> float:
    return value.total_seconds()


def test_delay_grows_exponentially_from_the_first_delay() -> None:
    plain = policy(max_delay=timedelta(seconds=100))
    assert [seconds(plain.delay(n, 0.5)) for n in range(1, 6)] == [1, 2, 4, 8, 16]


def test_delay_is_capped_at_max_delay() -> None:
    plain = policy()
    assert seconds(plain.delay(4, 0.5)) == 8
    assert seconds(plain.delay(5, 0.5)) == 10
    assert seconds(plain.delay(6, 0.5)) == 10


def test_a_huge_attempt_count_stays_at_the_cap_instead_of_overflowing() -> None:
    assert policy().delay(100_000, 0.5) == timedelta(seconds=10)


def test_multiplier_one_gives_a_constant_delay() -> None:
    constant = policy(multiplier=1.0)
    assert {seconds(constant.delay(n, 0.5)) for n in range(1, 8)} == {1}


def test_jitter_spreads_the_delay_by_the_jitter_fraction_either_way() -> None:
    jittered = policy(jitter=0.2, max_delay=timedelta(seconds=100))
    assert seconds(jittered.delay(3, 0.0)) == pytest.approx(3.2)
    assert seconds(jittered.delay(3, 0.5)) == pytest.approx(4.0)
    assert seconds(jittered.delay(3, ALMOST_ONE)) == pytest.approx(4.8)
    assert seconds(jittered.delay(3, ALMOST_ONE)) <= 4.8


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, ALMOST_ONE])
def test_jittered_delays_stay_within_bounds(fraction: float) -> None:
    jittered = policy(jitter=0.3, max_delay=timedelta(seconds=100))
    for attempt in range(1, 7):
        base = 2 ** (attempt - 1)
        assert base * 0.7 <= seconds(jittered.delay(attempt, fraction)) <= base * 1.3


def test_jitter_never_exceeds_the_cap_but_still_spreads_below_it() -> None:
    jittered = policy(jitter=0.2)
    capped = [seconds(jittered.delay(8, fraction)) for fraction in (0.0, 0.5, ALMOST_ONE)]
    assert capped[0] == pytest.approx(8.0)
    assert capped[1] == pytest.approx(9.0)
    assert capped[2] == pytest.approx(10.0)
    assert all(value <= 10 for value in capped)
    # Just below the cap: 8 s ± 20 % would reach 9.6 s, within the 10 s cap, so the spread stays symmetric.
    assert seconds(jittered.delay(4, ALMOST_ONE)) == pytest.approx(9.6)


def test_full_jitter_can_reach_zero_but_never_goes_negative() -> None:
    full = policy(jitter=1.0)
    assert full.delay(2, 0.0) == timedelta(0)
    assert seconds(full.delay(2, 0.5)) == pytest.approx(2.0)


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5])
def test_random_fraction_outside_the_unit_interval_is_refused(fraction: float) -> None:
    with pytest.raises(ValueError, match="random_fraction"):
        policy().delay(1, fraction)


@pytest.mark.parametrize("attempts", [0, -1])
def test_attempts_made_must_count_at_least_one_attempt(attempts: int) -> None:
    with pytest.raises(ValueError, match="attempts_made"):
        policy().delay(attempts, 0.5)
    with pytest.raises(ValueError, match="attempts_made"):
        policy().next_attempt_at(attempts, T0, T0, 0.5)


def test_next_attempt_is_now_plus_the_delay() -> None:
    now = T0 + timedelta(seconds=30)
    assert policy().next_attempt_at(3, T0, now, 0.5) == now + timedelta(seconds=4)


def test_gives_up_exactly_when_max_attempts_have_been_made() -> None:
    five = policy(max_attempts=5)
    assert five.next_attempt_at(4, T0, T0, 0.5) is not None
    assert five.next_attempt_at(5, T0, T0, 0.5) is None
    assert five.next_attempt_at(6, T0, T0, 0.5) is None


def test_a_single_attempt_policy_never_retries() -> None:
    assert policy(max_attempts=1).next_attempt_at(1, T0, T0, 0.0) is None


def test_max_age_cut_off_is_inclusive() -> None:
    aged = policy(max_attempts=100, max_age=timedelta(seconds=60))
    # Attempt 3 failed: the next wait is 4 s.
    assert aged.next_attempt_at(3, T0, T0 + timedelta(seconds=56), 0.5) == T0 + timedelta(seconds=60)
    assert aged.next_attempt_at(3, T0, T0 + timedelta(seconds=56, microseconds=1), 0.5) is None
    assert aged.next_attempt_at(3, T0, T0 + timedelta(seconds=90), 0.5) is None


def test_max_age_applies_to_the_jittered_time() -> None:
    aged = policy(max_attempts=100, max_age=timedelta(seconds=60), jitter=0.5)
    now = T0 + timedelta(seconds=55)
    # Attempt 3: 4 s ± 50 %, from 2 s to 6 s; only the short draws fit in the remaining 5 s.
    assert aged.next_attempt_at(3, T0, now, 0.0) == now + timedelta(seconds=2)
    assert aged.next_attempt_at(3, T0, now, 0.9) is None


def test_no_max_age_means_attempts_alone_decide() -> None:
    much_later = T0 + timedelta(days=365)
    assert policy(max_age=None).next_attempt_at(2, T0, much_later, 0.5) == much_later + timedelta(seconds=2)


def test_mixing_aware_and_naive_datetimes_is_refused_even_without_max_age() -> None:
    with pytest.raises(ValueError, match="timezone"):
        policy().next_attempt_at(1, T0.replace(tzinfo=None), T0, 0.5)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"first_delay": timedelta(seconds=-1)}, "first_delay"),
        ({"multiplier": 0.5}, "multiplier"),
        ({"multiplier": float("nan")}, "multiplier"),
        ({"multiplier": float("inf")}, "multiplier"),
        ({"max_delay": timedelta(milliseconds=500)}, "max_delay"),
        ({"jitter": -0.1}, "jitter"),
        ({"jitter": 1.1}, "jitter"),
        ({"max_age": timedelta(0)}, "max_age"),
    ],
)
def test_inconsistent_policies_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        policy(**overrides)


def test_policy_is_immutable_and_comparable_as_data() -> None:
    assert policy() == policy()
    with pytest.raises(AttributeError):
        policy().max_attempts = 3  # type: ignore[misc]


def test_webhook_policy_outlasts_a_one_hour_outage_even_at_the_shortest_jitter() -> None:
    # Waiting as little as the jitter allows after every failure, the last attempt still comes after an hour.
    waited = sum((WEBHOOK_RETRY_POLICY.delay(n, 0.0) for n in range(1, WEBHOOK_RETRY_POLICY.max_attempts)), timedelta())
    assert waited > timedelta(hours=1)


def test_webhook_policy_spends_its_attempts_before_its_max_age_in_the_healthy_worker_case() -> None:
    policy_ = WEBHOOK_RETRY_POLICY
    assert policy_.max_age is not None
    now = T0
    for attempts in range(1, policy_.max_attempts):
        next_at = policy_.next_attempt_at(attempts, T0, now, ALMOST_ONE)
        assert next_at is not None, f"gave up after {attempts} attempts"
        now = next_at
    assert policy_.next_attempt_at(policy_.max_attempts, T0, now, 0.0) is None
    assert now - T0 < policy_.max_age


def test_webhook_policy_first_retry_is_about_a_second_and_waits_never_exceed_five_minutes() -> None:
    assert timedelta(milliseconds=800) <= WEBHOOK_RETRY_POLICY.delay(1, 0.0)
    assert WEBHOOK_RETRY_POLICY.delay(1, ALMOST_ONE) <= timedelta(milliseconds=1200)
    assert WEBHOOK_RETRY_POLICY.delay(40, ALMOST_ONE) <= timedelta(minutes=5)


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_any_2xx_is_success(status: int) -> None:
    assert classify_http_outcome(status, None) is None


def test_410_gone_removes_the_subscription() -> None:
    assert classify_http_outcome(410, None) is FailureKind.GONE


@pytest.mark.parametrize("status", [100, 301, 302, 308, 400, 401, 403, 404, 408, 413, 425, 429, 500, 502, 503, 504])
def test_every_other_status_is_retried(status: int) -> None:
    assert classify_http_outcome(status, None) is FailureKind.RETRYABLE


@pytest.mark.parametrize("error", ["read timeout", "connection refused", "TLS handshake failed"])
def test_no_response_is_retried(error: str) -> None:
    assert classify_http_outcome(None, error) is FailureKind.RETRYABLE


def test_an_outcome_without_status_or_error_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="status or an error"):
        classify_http_outcome(None, None)


def test_classification_never_yields_terminal_for_http() -> None:
    kinds = {classify_http_outcome(status, None) for status in range(100, 600)}
    assert kinds == {None, FailureKind.RETRYABLE, FailureKind.GONE}
    assert FailureKind.TERMINAL.value == "terminal"
