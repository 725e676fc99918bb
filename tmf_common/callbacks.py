"""Callback URL validation for event hubs, with an SSRF policy checked against every address a host resolves to."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class CallbackRefused(ValueError):
    """A callback URL the hub will not deliver to; the API answers it with 400 and the reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class CallbackPolicy:
    """Which address ranges a callback may point at beyond the public internet.

    Link-local, cloud-metadata, unspecified, multicast and reserved addresses are refused whatever the policy:
    no legitimate listener lives there, and they are the usual targets of server-side request forgery.
    """

    allow_private: bool = False
    allow_loopback: bool = False


_METADATA = tuple(
    ipaddress.ip_network(network)
    for network in (
        "169.254.169.254/32",  # AWS, GCP, Azure IMDS, OpenStack, DigitalOcean
        "fd00:ec2::254/128",  # AWS IMDS over IPv6
        "100.100.100.200/32",  # Alibaba Cloud
        "168.63.129.16/32",  # Azure WireServer: a public address, so no range check would catch it
    )
)
_LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
# 0.0.0.0/8 as a whole: Linux connects 0.0.0.0 to the local host.
_UNSPECIFIED = (ipaddress.ip_network("0.0.0.0/8"), ipaddress.ip_network("::/128"))
_MULTICAST = (ipaddress.ip_network("224.0.0.0/4"), ipaddress.ip_network("ff00::/8"))
_PRIVATE = tuple(
    ipaddress.ip_network(network)
    for network in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
# Not globally reachable per the IANA special-purpose registries, listed here because ipaddress's is_global
# changed between 3.11 patch releases; the is_global check after them still catches anything missed.
_RESERVED = tuple(
    ipaddress.ip_network(network)
    for network in (
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "240.0.0.0/4",  # reserved, with the limited broadcast address
        "::/8",  # IPv4-compatible and other reserved forms (mapped and NAT64 are unwrapped before this check)
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments, Teredo included
        "2001:db8::/32",  # documentation
        "fec0::/10",  # deprecated site-local
    )
)
# The well-known NAT64 prefix: on an IPv6-only network with DNS64, public IPv4 hosts resolve into it.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

# A name whose last label is numeric is no DNS name but an IPv4 address in a form ipaddress rejects and the
# C library accepts ("127.1", "2130706433", "0x7f.1", "0177.0.0.1"); refuse it rather than guess its meaning.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
_HOST_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?\.?")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def default_resolver(host: str, port: int) -> list[str]:
    """Every address host resolves to; blocking, so call validate_callback off the event loop."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)]


def validate_callback(url: str, policy: CallbackPolicy, resolve: Resolver = default_resolver) -> str:
    """The normalised form of url if the hub may deliver to it under policy; raises CallbackRefused otherwise.

    A host name is resolved and every address checked, since a client connects to whichever comes first.
    This guards registration only: a name can resolve differently later (DNS rebinding), so the sender
    validates again before it connects.
    """
    parts = _split(url)
    scheme = parts.scheme.lower()
    port = _port(parts, scheme)
    host = parts.hostname or ""
    if not host:
        raise CallbackRefused("the callback URL has no host")
    literal = _ip_literal(host)
    if literal is not None:
        if isinstance(literal, ipaddress.IPv6Address) and literal.scope_id:
            # A zone only means something on this machine's own links, which callbacks never target.
            raise CallbackRefused("the callback URL must not name an IPv6 zone")
        _check_address(literal, policy, None)
        netloc_host = f"[{literal}]" if literal.version == 6 else str(literal)
    else:
        name = _ascii_host_name(host)
        if _is_localhost_name(name) and not policy.allow_loopback:
            raise CallbackRefused(f"host '{host}' is loopback, which this server does not allow for callbacks")
        for address in _resolve(name, port, resolve):
            _check_address(address, policy, name)
        netloc_host = name
    netloc = netloc_host if port == _DEFAULT_PORTS[scheme] else f"{netloc_host}:{port}"
    # The fragment is dropped: it is never sent in a request, so keeping it would only suggest it matters.
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _split(url: str) -> SplitResult:
    # Whitespace and control characters could split the request line or be trimmed differently by the sender.
    if any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in url):
        raise CallbackRefused("the callback URL contains whitespace or control characters")
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise CallbackRefused(f"the callback is not a valid URL: {error}") from None
    if parts.scheme.lower() not in _DEFAULT_PORTS:
        raise CallbackRefused("the callback must be an absolute http or https URL")
    if not parts.netloc:
        raise CallbackRefused("the callback URL has no host")
    # Credentials in a callback would be stored and logged in clear, and "@" is a classic way to disguise a host.
    if "@" in parts.netloc:
        raise CallbackRefused("the callback URL must not contain user information")
    return parts


def _port(parts: SplitResult, scheme: str) -> int:
    try:
        port = parts.port
    except ValueError:
        raise CallbackRefused("the callback URL has an invalid port") from None
    if port == 0:
        raise CallbackRefused("the callback URL has an invalid port")
    return _DEFAULT_PORTS[scheme] if port is None else port


def _ip_literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _ascii_host_name(host: str) -> str:
    try:
        name = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise CallbackRefused(f"host '{host}' is not a valid host name") from None
    if not _HOST_NAME.fullmatch(name) or ".." in name:
        raise CallbackRefused(f"host '{host}' is not a valid host name")
    if _NUMERIC_LABEL.fullmatch(name.rstrip(".").rsplit(".", 1)[-1]):
        raise CallbackRefused(f"host '{host}' is a numeric address in a non-standard form")
    return name


def _is_localhost_name(name: str) -> bool:
    # RFC 6761: "localhost" and every name under it resolve to loopback.
    bare = name.rstrip(".")
    return bare == "localhost" or bare.endswith(".localhost")


def _resolve(name: str, port: int, resolve: Resolver) -> list[Address]:
    try:
        resolved = resolve(name, port)
    except (OSError, UnicodeError):
        raise CallbackRefused(f"host '{name}' cannot be resolved") from None
    if not resolved:
        raise CallbackRefused(f"host '{name}' cannot be resolved")
    addresses = []
    for text in resolved:
        address = _ip_literal(text)
        if address is None:
            raise CallbackRefused(f"host '{name}' resolved to '{text}', which is not an IP address")
        addresses.append(address)
    return addresses


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    # The IPv4 address a packet to this IPv6 address actually reaches, where the IPv6 form is only a wrapper.
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _check_address(address: Address, policy: CallbackPolicy, resolved_from: str | None) -> None:
    embedded = _embedded_ipv4(address)
    effective: Address = embedded if embedded is not None else address
    shown = f"{address} ({embedded})" if embedded is not None else str(address)
    subject = shown if resolved_from is None else f"host '{resolved_from}' resolves to {shown}, which"

    def refuse(what: str) -> CallbackRefused:
        return CallbackRefused(f"{subject} is {what}")

    # Order matters: metadata addresses sit inside link-local and private ranges, and must stay refused
    # even when the policy allows those ranges.
    if _within(effective, _METADATA):
        raise refuse("a cloud metadata address, never allowed for callbacks")
    if _within(effective, _LINK_LOCAL):
        raise refuse("link-local, never allowed for callbacks")
    if _within(effective, _UNSPECIFIED):
        raise refuse("unspecified, never allowed for callbacks")
    if _within(effective, _MULTICAST):
        raise refuse("multicast, never allowed for callbacks")
    if _within(effective, _PRIVATE):
        if policy.allow_private:
            return
        raise refuse("private, which this server does not allow for callbacks")
    if _within(effective, _LOOPBACK):
        if policy.allow_loopback:
            return
        raise refuse("loopback, which this server does not allow for callbacks")
    if _within(effective, _RESERVED) or effective.is_reserved or not effective.is_global:
        raise refuse("reserved or not globally routable, never allowed for callbacks")


def _within(address: Address, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    return any(address.version == network.version and address in network for network in networks)
