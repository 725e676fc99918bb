"""Webhook signatures: HMAC-SHA256 over a timestamp and the body, so a listener can check origin and reject replays."""

from __future__ import annotations

import hashlib
import hmac
import re

SIGNATURE_HEADER = "X-TMF-Signature"
DEFAULT_TOLERANCE_SECONDS = 300

_TIMESTAMP = re.compile(r"[0-9]{1,18}")
_V1 = re.compile(r"[0-9a-f]{64}")


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    # The timestamp is inside the MAC, so a replayed body cannot be given a fresh timestamp.
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for body sent at timestamp (Unix seconds): t=<timestamp>,v1=<hex HMAC-SHA256>."""
    if not secret:
        raise ValueError("a signing secret must not be empty")
    if timestamp < 0:
        raise ValueError(f"timestamp must be Unix seconds, got {timestamp}")
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify(
    secret: str, header_value: str, body: bytes, now: int, tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS
) -> bool:
    """Whether header_value is a valid signature of body under secret, made within tolerance_seconds of now.

    The header may carry several v1 values (a sender signing with an old and a new secret while a rotation is
    under way): one match is enough. Elements other than t and v1 are ignored, so a later scheme can be added
    beside v1 without breaking existing listeners. A malformed header is simply not valid.
    """
    if tolerance_seconds < 0:
        raise ValueError(f"tolerance_seconds must not be negative, got {tolerance_seconds}")
    if not secret:
        return False
    timestamps: list[str] = []
    candidates: list[str] = []
    for element in header_value.split(","):
        key, separator, value = element.strip().partition("=")
        if not separator:
            return False
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            candidates.append(value)
    # Exactly one timestamp: with two, sender and receiver could disagree on which one the MAC covers.
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0]) or not candidates:
        return False
    # compare_digest needs ASCII strings, and a malformed candidate means a malformed header.
    if not all(_V1.fullmatch(candidate) for candidate in candidates):
        return False
    timestamp = int(timestamps[0])
    # Future timestamps are refused too: a signature minted "ahead" would otherwise stay replayable for longer.
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = _digest(secret, timestamp, body)
    # Compare against every candidate, so the time taken does not reveal which one matched.
    matches = [hmac.compare_digest(expected, candidate) for candidate in candidates]
    return any(matches)
