"""Where a webhook may be sent (SSRF guard): the scheme, and every address its host resolves to.

A subscription names a URL that the gateway will POST to from inside the county network, so a
department could otherwise make the gateway call an internal service (a database admin page, a
cloud metadata endpoint, the Airflow API on loopback). :func:`check_target` refuses, unless an
operator allows it in ``api.webhook_allow`` (hosts or CIDR networks):

* any scheme but ``http`` / ``https``, user info in the URL, a missing host;
* a host that does not resolve;
* any resolved address that is loopback, link-local, private (RFC 1918 / ULA), shared (CGNAT),
  multicast, reserved or unspecified — an IPv4-mapped IPv6 address is judged as its IPv4.

It runs when a subscription is made (the API answers 422 ``WEBHOOK_TARGET_REFUSED``) and again
before every delivery (a name may resolve elsewhere later: the delivery fails with the reason
and is not sent).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import urlsplit

from gateway.errors import WebhookTargetRefused

Resolver = Callable[[str, int], Sequence[str]]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

__all__ = ["Resolver", "WebhookTargetRefused", "check_target", "system_resolver"]

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598): not in is_private


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _allowed(allow: Iterable[str]) -> tuple[set[str], list[IPNetwork]]:
    hosts: set[str] = set()
    nets: list[IPNetwork] = []
    for entry in allow:
        try:
            nets.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(entry.lower())
    return hosts, nets


def _internal(addr: IPAddress) -> str | None:
    """Why ``addr`` is not a public address (None: it is)."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    for name in ("loopback", "link_local", "multicast", "unspecified", "reserved", "private"):
        if getattr(addr, f"is_{name}"):
            return name.replace("_", "-")
    if isinstance(addr, ipaddress.IPv4Address) and addr in _SHARED:
        return "shared (carrier-grade NAT)"
    return None


def check_target(url: str, allow: Iterable[str] = (), *, resolve: Resolver = system_resolver) -> list[str]:
    """The addresses ``url`` may be sent to; raises :class:`WebhookTargetRefused` naming the reason."""
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        raise WebhookTargetRefused(f"webhook URL is malformed: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise WebhookTargetRefused(f"webhook URL scheme {parts.scheme!r} is not http or https")
    if parts.username is not None or parts.password is not None:
        raise WebhookTargetRefused("webhook URL must not carry user info (user:password@)")
    host = (hostname or "").lower()
    if not host:
        raise WebhookTargetRefused("webhook URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise WebhookTargetRefused(f"webhook URL port is invalid: {exc}") from exc
    hosts, nets = _allowed(allow)
    if host in hosts:
        return [host]
    try:
        addresses = (
            [ipaddress.ip_address(host)]
            if _is_literal(host)
            else [ipaddress.ip_address(a.split("%")[0]) for a in resolve(host, port)]
        )
    except (OSError, UnicodeError) as exc:
        raise WebhookTargetRefused(f"webhook host {host} does not resolve: {exc}") from exc
    if not addresses:
        raise WebhookTargetRefused(f"webhook host {host} resolves to no address")
    for addr in addresses:
        if any(addr.version == n.version and addr in n for n in nets):
            continue
        why = _internal(addr)
        if why is not None:
            raise WebhookTargetRefused(
                f"webhook host {host} resolves to {addr}, a {why} address; an operator may allow it "
                "with TONGBAN_API__WEBHOOK_ALLOW"
            )
    return [str(a) for a in addresses]


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
