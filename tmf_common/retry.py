"""Retry policy as data: exponential backoff with jitter, attempt and age limits, and HTTP failure classification."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class FailureKind(StrEnum):
    """How a failed attempt continues: try again later, stop for good, or drop the target altogether."""

    RETRYABLE = "retryable"
    # Never produced by classify_http_outcome: every HTTP answer but 2xx and 410 is worth retrying (see there).
    # It is for callers that know retrying cannot help, e.g. an orchestration step refused by business rules,
    # or a delivery whose callback the SSRF policy now refuses.
    TERMINAL = "terminal"
    # The target itself is gone (410 from a webhook listener): the subscription is removed, not just the delivery.
    GONE = "gone"


@dataclass(frozen=True)
class RetryPolicy:
    """Attempt limits and the backoff between attempts; pure, so deterministic given the random fraction.

    Attempt n (counting from 1) is followed, if it fails, by a wait of first_delay * multiplier ** (n - 1),
    capped at max_delay and spread by up to ±jitter of itself. max_delay is a hard ceiling: near the cap the
    spread is squeezed below it rather than clipped onto it, so capped retries stay spread out instead of
    landing together at exactly max_delay.
    """

    max_attempts: int
    first_delay: timedelta
    multiplier: float
    max_delay: timedelta
    jitter: float
    # Measured from the first attempt, not from enqueueing, so time spent waiting for a worker is not charged.
    max_age: timedelta | None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.first_delay < timedelta(0):
            raise ValueError(f"first_delay must not be negative, got {self.first_delay}")
        if not math.isfinite(self.multiplier) or self.multiplier < 1:
            raise ValueError(f"multiplier must be a finite number of at least 1, got {self.multiplier}")
        if self.max_delay < self.first_delay:
            raise ValueError(f"max_delay ({self.max_delay}) must not be less than first_delay ({self.first_delay})")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter is a fraction between 0 and 1, got {self.jitter}")
        if self.max_age is not None and self.max_age <= timedelta(0):
            raise ValueError(f"max_age must be positive or None, got {self.max_age}")

    def delay(self, attempts_made: int, random_fraction: float) -> timedelta:
        """The wait after the attempts_made-th failed attempt; random_fraction in [0, 1) picks within the jitter."""
        _check_attempts(attempts_made)
        _check_fraction(random_fraction)
        first = self.first_delay.total_seconds()
        ceiling = self.max_delay.total_seconds()
        try:
            base = min(first * self.multiplier ** (attempts_made - 1), ceiling)
        except OverflowError:  # a large attempt count overflows the float long after the cap applies
            base = ceiling
        low = base * (1 - self.jitter)
        high = min(base * (1 + self.jitter), ceiling)
        return timedelta(seconds=low + (high - low) * random_fraction)

    def next_attempt_at(
        self, attempts_made: int, first_attempt_at: datetime, now: datetime, random_fraction: float
    ) -> datetime | None:
        """When to try again after attempts_made failed attempts, or None to give up (dead-letter, fail the task)."""
        _check_attempts(attempts_made)
        if (first_attempt_at.tzinfo is None) != (now.tzinfo is None):
            # Comparing would raise only when max_age is set; fail the same way for every policy.
            raise ValueError("first_attempt_at and now must both be timezone-aware or both naive")
        if attempts_made >= self.max_attempts:
            return None
        at = now + self.delay(attempts_made, random_fraction)
        # An attempt due exactly at the deadline still runs: the age limit is inclusive.
        if self.max_age is not None and at > first_attempt_at + self.max_age:
            return None
        return at


def _check_attempts(attempts_made: int) -> None:
    # Zero attempts has no "next" attempt to schedule: the first one runs as soon as the work exists.
    if attempts_made < 1:
        raise ValueError(f"attempts_made counts failed attempts so far and must be at least 1, got {attempts_made}")


def _check_fraction(random_fraction: float) -> None:
    if not 0 <= random_fraction < 1:
        raise ValueError(f"random_fraction must be in [0, 1), got {random_fraction}")


# Sized so a listener that is down for an hour still receives everything without a replay: even at the lowest
# jitter the 24 waits add up to more than an hour (about 67 minutes; about 85 at the highest), and max_age,
# above that, only stops deliveries that were held back, e.g. while every worker was down.
WEBHOOK_RETRY_POLICY = RetryPolicy(
    max_attempts=25,
    first_delay=timedelta(seconds=1),
    multiplier=2.0,
    max_delay=timedelta(minutes=5),
    jitter=0.2,
    max_age=timedelta(hours=2),
)


def classify_http_outcome(status: int | None, error: str | None) -> FailureKind | None:
    """The failure kind of one webhook POST, or None when the listener accepted it (any 2xx).

    status is the response status, or None when no response came (error then says why: timeout, refused
    connection, TLS failure). 410 Gone means the listener asks to be unsubscribed. Every other answer is
    retried under the policy, 4xx included: a listener answering 400, 401, 404 or 413 is most likely
    misconfigured, and its operator can fix it while the retries run and see each attempt in the delivery
    records; giving up at once would lose events the integrator asked for. 3xx is retried for the same reason
    (redirects are not followed: a redirect could point the delivery at an address the SSRF policy refuses).
    """
    if status is None:
        if error is None:
            raise ValueError("an outcome needs a status or an error")
        return FailureKind.RETRYABLE
    if 200 <= status < 300:
        return None
    if status == 410:
        return FailureKind.GONE
    return FailureKind.RETRYABLE
