"""Unit tests of webhook signatures: round trip, wrong secret, tampering, timestamp tolerance, malformed headers."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from tmf_common.signing import SIGNATURE_HEADER, sign, verify

SECRET = "whsec_7f3a9c"
BODY = b'{"eventId":"e-1","eventType":"ProductOrderStateChangeEvent","event":{"productOrder":{"id":"42"}}}'
NOW = 1_714_564_800


def v1(secret: str, timestamp: int, body: bytes) -> str:
    return sign(secret, timestamp, body).split(",v1=", 1)[1]


def test_header_name() -> None:
    assert SIGNATURE_HEADER == "X-TMF-Signature"


def test_header_value_is_timestamp_and_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, BODY) == f"t={NOW},v1={expected}"


def test_signing_is_deterministic_and_depends_on_every_input() -> None:
    header = sign(SECRET, NOW, BODY)
    assert sign(SECRET, NOW, BODY) == header
    assert sign("other", NOW, BODY) != header
    assert v1(SECRET, NOW + 1, BODY) != v1(SECRET, NOW, BODY)
    assert sign(SECRET, NOW, BODY + b" ") != header


def test_round_trip_verifies() -> None:
    assert verify(SECRET, sign(SECRET, NOW, BODY), BODY, now=NOW)


def test_an_empty_body_round_trips() -> None:
    assert verify(SECRET, sign(SECRET, NOW, b""), b"", now=NOW)


def test_wrong_secret_fails() -> None:
    assert not verify("another-secret", sign(SECRET, NOW, BODY), BODY, now=NOW)


def test_empty_secret_never_verifies_and_cannot_sign() -> None:
    assert not verify("", sign(SECRET, NOW, BODY), BODY, now=NOW)
    with pytest.raises(ValueError, match="secret"):
        sign("", NOW, BODY)


@pytest.mark.parametrize("tampered", [BODY.replace(b"42", b"43"), BODY + b"\n", BODY[:-1], b""])
def test_tampered_body_fails(tampered: bytes) -> None:
    assert not verify(SECRET, sign(SECRET, NOW, BODY), tampered, now=NOW)


def test_a_timestamp_moved_to_look_fresh_fails() -> None:
    # A replay with its timestamp rewritten: the MAC still covers the original timestamp.
    old = sign(SECRET, NOW - 3600, BODY)
    forged = old.replace(f"t={NOW - 3600}", f"t={NOW}")
    assert not verify(SECRET, forged, BODY, now=NOW)


def test_timestamps_exactly_at_the_tolerance_are_accepted() -> None:
    assert verify(SECRET, sign(SECRET, NOW - 300, BODY), BODY, now=NOW)
    assert verify(SECRET, sign(SECRET, NOW + 300, BODY), BODY, now=NOW)


def test_stale_timestamp_fails() -> None:
    assert not verify(SECRET, sign(SECRET, NOW - 301, BODY), BODY, now=NOW)


def test_future_timestamp_beyond_tolerance_fails() -> None:
    assert not verify(SECRET, sign(SECRET, NOW + 301, BODY), BODY, now=NOW)


def test_tolerance_is_configurable() -> None:
    header = sign(SECRET, NOW - 30, BODY)
    assert not verify(SECRET, header, BODY, now=NOW, tolerance_seconds=29)
    assert verify(SECRET, header, BODY, now=NOW, tolerance_seconds=30)
    assert verify(SECRET, sign(SECRET, NOW, BODY), BODY, now=NOW, tolerance_seconds=0)


def test_negative_tolerance_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        verify(SECRET, sign(SECRET, NOW, BODY), BODY, now=NOW, tolerance_seconds=-1)


def test_negative_timestamp_cannot_be_signed() -> None:
    with pytest.raises(ValueError, match="timestamp"):
        sign(SECRET, -1, BODY)


def test_any_matching_v1_among_several_verifies_for_secret_rotation() -> None:
    old = v1("old-secret", NOW, BODY)
    new = v1(SECRET, NOW, BODY)
    assert verify(SECRET, f"t={NOW},v1={old},v1={new}", BODY, now=NOW)
    assert verify(SECRET, f"t={NOW},v1={new},v1={old}", BODY, now=NOW)
    assert verify("old-secret", f"t={NOW},v1={old},v1={new}", BODY, now=NOW)
    assert not verify("third-secret", f"t={NOW},v1={old},v1={new}", BODY, now=NOW)


def test_element_order_spaces_and_unknown_schemes_are_tolerated() -> None:
    mac = v1(SECRET, NOW, BODY)
    assert verify(SECRET, f"v1={mac},t={NOW}", BODY, now=NOW)
    assert verify(SECRET, f" t={NOW} , v1={mac} ", BODY, now=NOW)
    assert verify(SECRET, f"t={NOW},v0=legacy,v2=future,v1={mac}", BODY, now=NOW)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        f"t={NOW}",
        "v1={mac}",
        f"t={NOW},v1=",
        f"t={NOW},v1={{mac}}extra",
        f"t={NOW},v1={{short}}",
        f"t={NOW},v1={{upper}}",
        f"t={NOW},v1={{nonascii}}",
        f"t={NOW},v1={{mac}},v1=zz",
        f"t={NOW},t={NOW},v1={{mac}}",
        "t=,v1={mac}",
        "t=abc,v1={mac}",
        f"t=-{NOW},v1={{mac}}",
        f"t={NOW}.0,v1={{mac}}",
        f"t=+{NOW},v1={{mac}}",
        "t=١٧١٤٥٦٤٨٠٠,v1={mac}",
        f"t={NOW};v1={{mac}}",
        f"t={NOW},v1={{mac}},",
        f"t={NOW},,v1={{mac}}",
        f"T={NOW},V1={{mac}}",
    ],
)
def test_malformed_headers_fail(header: str) -> None:
    mac = v1(SECRET, NOW, BODY)
    value = header.format(mac=mac, short=mac[:-1], upper=mac.upper(), nonascii=mac[:-1] + "é")
    assert not verify(SECRET, value, BODY, now=NOW)
    # The same header with its malformation removed would verify: the failure is due to the malformation alone.
    assert verify(SECRET, f"t={NOW},v1={mac}", BODY, now=NOW)


def test_an_absurdly_large_timestamp_fails_without_error() -> None:
    mac = v1(SECRET, NOW, BODY)
    assert not verify(SECRET, f"t={'9' * 40},v1={mac}", BODY, now=NOW)
