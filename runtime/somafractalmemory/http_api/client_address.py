"""Which address a request comes from: the peer, or, when the peer is a trusted proxy
(SOMA_TRUSTED_PROXIES), the client that the proxies name in X-Forwarded-For (else Forwarded).

The chain is read from the right, the hops the proxies appended themselves; the first address that is not a
trusted proxy is the client. Whatever a client writes into those headers lies left of that, so it is never
believed. An unreadable hop ends the walk at the last proxy.
"""

import ipaddress
from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network
Headers = Iterable[tuple[bytes, bytes]]

UNKNOWN = "unknown"
# One IPv6 host usually holds a whole /64: counting its addresses one by one would give it 2**64 budgets.
IPV6_CLIENT_PREFIX = 64


def parse_hop(text: str) -> Address | None:
    """An address from an X-Forwarded-For entry or a Forwarded ``for=`` value: ``1.2.3.4``, ``1.2.3.4:80``,
    ``2001:db8::1``, ``"[2001:db8::1]:80"``; None for ``unknown``, obfuscated names and garbage."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def forwarded_chain(headers: Headers) -> list[str]:
    """The hops, left to right: every X-Forwarded-For header, else every Forwarded header's ``for=``."""
    forwarded_for: list[str] = []
    forwarded: list[str] = []
    for name, value in headers:
        if name == b"x-forwarded-for":
            forwarded_for += value.decode("latin-1").split(",")
        elif name == b"forwarded":
            for element in value.decode("latin-1").split(","):
                for pair in element.split(";"):
                    key, _, hop = pair.partition("=")
                    if key.strip().lower() == "for":
                        forwarded.append(hop)
    return forwarded_for or forwarded


def rate_key(address: str) -> str:
    """What an address is counted as: itself, or its /64 for IPv6 (an IPv4-mapped one as its IPv4)."""
    if ":" not in address:
        return address
    parsed = parse_hop(address)
    if isinstance(parsed, IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_CLIENT_PREFIX}", strict=False))
    return address


class ClientAddresses:
    def __init__(self, trusted_proxies: Sequence[Network]) -> None:
        self._trusted = tuple(trusted_proxies)

    def _trusts(self, address: Address | None) -> bool:
        return address is not None and any(address in network for network in self._trusted)

    def client(self, peer: str | None, headers: Headers) -> str:
        if peer is None:
            return UNKNOWN
        if not self._trusted:
            return peer
        current = parse_hop(peer)
        if not self._trusts(current):
            return peer
        for hop in reversed(forwarded_chain(headers)):
            if not self._trusts(current):
                break
            address = parse_hop(hop)
            if address is None:
                break
            current = address
        return str(current)
