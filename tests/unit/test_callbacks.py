"""Unit tests of callback URL validation and its SSRF policy, with a fake resolver instead of DNS."""

from __future__ import annotations

import socket

import pytest

from tmf_common.callbacks import CallbackPolicy, CallbackRefused, validate_callback

STRICT = CallbackPolicy(allow_private=False, allow_loopback=False)
DEV = CallbackPolicy(allow_private=True, allow_loopback=True)

PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"


class FakeResolver:
    """Answers from a fixed table and records each lookup; unknown names fail as DNS would."""

    def __init__(self, table: dict[str, list[str]] | None = None) -> None:
        self.table = table or {}
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


def refused(url: str, policy: CallbackPolicy = STRICT, resolver: FakeResolver | None = None) -> str:
    with pytest.raises(CallbackRefused) as caught:
        validate_callback(url, policy, resolver or FakeResolver())
    assert caught.value.reason == str(caught.value)
    return caught.value.reason


# --- shape of the URL ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "listener.example.com/hook",
        "/hook",
        "//listener.example.com/hook",
        "ftp://listener.example.com/hook",
        "file:///etc/passwd",
        "gopher://listener.example.com/",
        "javascript:alert(1)",
        "",
    ],
)
def test_only_absolute_http_urls_are_accepted(url: str) -> None:
    assert "absolute http or https URL" in refused(url)


@pytest.mark.parametrize("url", ["http://", "https:///hook", "http://:8080/hook", "http:hook"])
def test_a_url_without_host_is_refused(url: str) -> None:
    assert "no host" in refused(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://user:secret@listener.example.com/hook",
        "http://user@listener.example.com/hook",
        "http://@listener.example.com/hook",
        "http://listener.example.com@169.254.169.254/",
    ],
)
def test_user_information_is_refused(url: str) -> None:
    resolver = FakeResolver({"listener.example.com": [PUBLIC_V4]})
    assert "user information" in refused(url, resolver=resolver)
    assert resolver.calls == []


@pytest.mark.parametrize(
    "url",
    [
        " http://listener.example.com/hook",
        "http://listener.example.com/hook ",
        "http://listener.example.com/ho ok",
        "http://listener.example.com/hook\r\nX-Injected: 1",
        "http://listener.example.com/\thook",
        "http://listener.example.com/\x00",
    ],
)
def test_whitespace_and_control_characters_are_refused(url: str) -> None:
    assert "whitespace or control characters" in refused(url)


@pytest.mark.parametrize("url", ["http://listener.example.com:0/", "http://listener.example.com:70000/", "http://h:x/"])
def test_an_invalid_port_is_refused(url: str) -> None:
    assert "invalid port" in refused(url)


def test_malformed_brackets_are_refused() -> None:
    assert "not a valid URL" in refused("http://[::1/hook")
    assert "not a valid URL" in refused("http://[127.0.0.1]/hook")


@pytest.mark.parametrize(
    "host", ["bad%host.example.com", "under..dots.example.com", "-leading.example.com", "a" * 64 + ".example.com"]
)
def test_an_invalid_host_name_is_refused(host: str) -> None:
    assert "not a valid host name" in refused(f"http://{host}/hook")


# --- normalisation --------------------------------------------------------------------------------------------


def test_a_public_url_comes_back_normalised() -> None:
    resolver = FakeResolver({"listener.example.com": [PUBLIC_V4]})
    assert validate_callback("HTTPS://Listener.Example.COM:443", STRICT, resolver) == "https://listener.example.com/"
    assert resolver.calls == [("listener.example.com", 443)]


def test_path_query_and_non_default_port_are_kept_and_the_fragment_dropped() -> None:
    resolver = FakeResolver({"listener.example.com": [PUBLIC_V4]})
    url = "http://listener.example.com:8443/tmf/listener?tenant=a&x=1#frag"
    assert validate_callback(url, STRICT, resolver) == "http://listener.example.com:8443/tmf/listener?tenant=a&x=1"
    assert resolver.calls == [("listener.example.com", 8443)]


def test_the_default_port_is_dropped_for_its_own_scheme_only() -> None:
    resolver = FakeResolver({"listener.example.com": [PUBLIC_V4]})
    assert validate_callback("http://listener.example.com:80/h", STRICT, resolver) == "http://listener.example.com/h"
    assert validate_callback("https://listener.example.com:80/h", STRICT, resolver) == (
        "https://listener.example.com:80/h"
    )


def test_an_international_host_name_is_checked_and_returned_in_its_ascii_form() -> None:
    resolver = FakeResolver({"xn--bcher-kva.example": [PUBLIC_V4]})
    assert validate_callback("https://Bücher.example/hook", STRICT, resolver) == "https://xn--bcher-kva.example/hook"


def test_ip_literals_are_checked_without_resolving_and_returned_canonical() -> None:
    resolver = FakeResolver()
    assert validate_callback(f"http://{PUBLIC_V4}:8080/h", STRICT, resolver) == f"http://{PUBLIC_V4}:8080/h"
    assert validate_callback("http://[2606:2800:0220:0001:0248:1893:25C8:1946]/h", STRICT, resolver) == (
        f"http://[{PUBLIC_V6}]/h"
    )
    assert resolver.calls == []


# --- resolution --------------------------------------------------------------------------------------------


def test_an_unresolvable_host_is_refused() -> None:
    assert "cannot be resolved" in refused("http://nowhere.invalid/hook")


def test_a_host_resolving_to_nothing_is_refused() -> None:
    assert "cannot be resolved" in refused(
        "http://empty.example.com/", resolver=FakeResolver({"empty.example.com": []})
    )


def test_a_resolver_answer_that_is_not_an_address_is_refused() -> None:
    resolver = FakeResolver({"odd.example.com": ["not-an-ip"]})
    assert "not an IP address" in refused("http://odd.example.com/", resolver=resolver)


def test_a_name_resolving_to_a_public_and_a_private_address_is_refused() -> None:
    resolver = FakeResolver({"split.example.com": [PUBLIC_V4, "10.1.2.3"]})
    reason = refused("http://split.example.com/hook", resolver=resolver)
    assert "split.example.com" in reason
    assert "10.1.2.3" in reason
    assert "private" in reason


def test_the_private_address_is_found_whatever_its_position_among_the_answers() -> None:
    resolver = FakeResolver({"split.example.com": ["10.1.2.3", PUBLIC_V4, PUBLIC_V6]})
    assert "private" in refused("http://split.example.com/hook", resolver=resolver)
    resolver = FakeResolver({"split.example.com": [PUBLIC_V4, PUBLIC_V6, "fe80::1"]})
    assert "link-local" in refused("http://split.example.com/hook", resolver=resolver)


def test_a_name_resolving_only_to_public_addresses_is_accepted() -> None:
    resolver = FakeResolver({"both.example.com": [PUBLIC_V4, PUBLIC_V6]})
    assert validate_callback("http://both.example.com/hook", STRICT, resolver) == "http://both.example.com/hook"


def test_a_name_resolving_to_a_metadata_address_is_refused_even_by_the_most_permissive_policy() -> None:
    resolver = FakeResolver({"rebind.example.com": ["169.254.169.254"]})
    assert "cloud metadata" in refused("http://rebind.example.com/latest/meta-data/", DEV, resolver)


def test_a_resolved_scoped_link_local_address_is_refused() -> None:
    resolver = FakeResolver({"lan.example.com": ["fe80::1%eth0"]})
    assert "link-local" in refused("http://lan.example.com/", DEV, resolver)


# --- address ranges: always refused ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "why"),
    [
        ("169.254.169.254", "cloud metadata"),
        ("[fd00:ec2::254]", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("168.63.129.16", "cloud metadata"),
        ("[::ffff:169.254.169.254]", "cloud metadata"),
        ("169.254.0.1", "link-local"),
        ("169.254.255.255", "link-local"),
        ("[fe80::1]", "link-local"),
        ("[febf:ffff::1]", "link-local"),
        ("[::ffff:169.254.10.10]", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("[::]", "unspecified"),
        ("[::ffff:0.0.0.0]", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("[ff02::1]", "multicast"),
        ("[ff0e::1]", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.10", "reserved"),
        ("198.51.100.7", "reserved"),
        ("203.0.113.9", "reserved"),
        ("198.18.0.1", "reserved"),
        ("192.0.0.8", "reserved"),
        ("[2001:db8::1]", "reserved"),
        ("[100::1]", "reserved"),
        ("[::7f00:1]", "reserved"),
        ("[fec0::1]", "reserved"),
        ("[4000::1]", "reserved"),
        ("192.88.99.1", "reserved"),
        ("[2001::1]", "reserved"),
        ("[64:ff9b:1::1]", "reserved"),
    ],
)
def test_ranges_refused_whatever_the_policy(host: str, why: str) -> None:
    for policy in (STRICT, DEV):
        assert why in refused(f"http://{host}/hook", policy)


def test_an_ip_literal_with_a_zone_is_refused() -> None:
    assert "zone" in refused(f"http://[{PUBLIC_V6}%25eth0]/hook", DEV)


# --- address ranges: private and loopback, by policy -------------------------------------------------------


PRIVATE_HOSTS = [
    "10.0.0.1",
    "10.255.255.255",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.10",
    "100.64.0.1",
    "100.127.255.254",
    "[fc00::1]",
    "[fd12:3456::1]",
    "[::ffff:10.0.0.1]",
    "[::ffff:192.168.0.1]",
]


@pytest.mark.parametrize("host", PRIVATE_HOSTS)
def test_private_ranges_are_refused_unless_the_policy_allows_them(host: str) -> None:
    assert "private" in refused(f"http://{host}/hook", STRICT)
    assert "private" in refused(f"http://{host}/hook", CallbackPolicy(allow_private=False, allow_loopback=True))
    allowed = CallbackPolicy(allow_private=True, allow_loopback=False)
    assert validate_callback(f"http://{host}/hook", allowed, FakeResolver()).endswith("/hook")


@pytest.mark.parametrize("host", ["172.15.255.255", "172.32.0.1", "100.63.255.255", "100.128.0.1", "11.0.0.1"])
def test_addresses_just_outside_the_private_ranges_are_public(host: str) -> None:
    assert validate_callback(f"http://{host}/hook", STRICT, FakeResolver()) == f"http://{host}/hook"


LOOPBACK_HOSTS = ["127.0.0.1", "127.255.255.254", "[::1]", "[::ffff:127.0.0.1]"]


@pytest.mark.parametrize("host", LOOPBACK_HOSTS)
def test_loopback_is_refused_unless_the_policy_allows_it(host: str) -> None:
    assert "loopback" in refused(f"http://{host}:8080/hook", STRICT)
    assert "loopback" in refused(f"http://{host}:8080/hook", CallbackPolicy(allow_private=True, allow_loopback=False))
    allowed = CallbackPolicy(allow_private=False, allow_loopback=True)
    assert validate_callback(f"http://{host}:8080/hook", allowed, FakeResolver()).endswith(":8080/hook")


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "localhost.", "api.localhost"])
def test_localhost_names_are_refused_without_a_lookup_unless_loopback_is_allowed(host: str) -> None:
    resolver = FakeResolver({host.lower(): ["127.0.0.1", "::1"]})
    assert "loopback" in refused(f"http://{host}:9000/hook", STRICT, resolver)
    assert resolver.calls == []
    allowed = CallbackPolicy(allow_private=False, allow_loopback=True)
    assert validate_callback(f"http://{host}:9000/hook", allowed, resolver) == f"http://{host.lower()}:9000/hook"
    assert resolver.calls == [(host.lower(), 9000)]


def test_a_localhost_name_pointing_elsewhere_is_still_checked_address_by_address() -> None:
    resolver = FakeResolver({"localhost": ["127.0.0.1", "169.254.169.254"]})
    assert "cloud metadata" in refused("http://localhost/hook", DEV, resolver)


def test_a_public_name_resolving_to_loopback_is_refused() -> None:
    resolver = FakeResolver({"sneaky.example.com": ["127.0.0.1"]})
    assert "loopback" in refused("http://sneaky.example.com/hook", STRICT, resolver)


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0x7f000001", "0x7f.0.0.1", "0177.0.0.1", "10.1"])
def test_numeric_hosts_in_non_standard_forms_are_refused(host: str) -> None:
    resolver = FakeResolver({host: [PUBLIC_V4]})
    assert "non-standard form" in refused(f"http://{host}/hook", DEV, resolver)
    assert resolver.calls == []


def test_mapped_and_nat64_addresses_are_judged_by_their_ipv4_address() -> None:
    for host in ("[::ffff:93.184.216.34]", "[64:ff9b::93.184.216.34]"):
        assert validate_callback(f"http://{host}/h", STRICT, FakeResolver()).startswith("http://[")
    assert "private" in refused("http://[64:ff9b::10.0.0.1]/h")
    assert "cloud metadata" in refused("http://[64:ff9b::a9fe:a9fe]/h", DEV)
    assert "link-local" in refused("http://[2002:a9fe:0101::1]/h", DEV)


def test_the_refusal_names_both_forms_of_a_mapped_address() -> None:
    reason = refused("http://[::ffff:10.0.0.1]/hook")
    assert "::ffff:a00:1" in reason
    assert "(10.0.0.1)" in reason


def test_refused_callback_is_a_value_error_for_generic_handlers() -> None:
    with pytest.raises(ValueError):
        validate_callback("http://10.0.0.1/", STRICT, FakeResolver())


def test_the_default_policy_is_the_strict_one() -> None:
    assert CallbackPolicy() == STRICT
