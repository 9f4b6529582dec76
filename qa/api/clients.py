"""Who is asking: the client's IP address, believing X-Forwarded-For only from trusted proxies.

A client can put anything in X-Forwarded-For, so the header is read only when the connection
comes from a proxy listed in ``QA_TRUSTED_PROXIES``, and then from the right: the first address
that is not itself a trusted proxy is the client. (``qa serve`` runs uvicorn with its own
proxy-header handling off, so the connection's address reaches this code unchanged.)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str) -> list[Network]:
    """``"10.0.0.0/8, 127.0.0.1"`` → networks; a bad entry names the setting."""
    networks = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ValueError(f"QA_TRUSTED_PROXIES: {item!r} is not an IP address or network ({exc})") from exc
    return networks


class ClientAddress:
    def __init__(self, trusted: Iterable[Network]) -> None:
        self.trusted = list(trusted)

    def _is_trusted(self, address: str) -> bool:
        ip = _ip(address)
        return ip is not None and any(ip in net for net in self.trusted)

    def __call__(self, scope: Scope) -> str:
        peer = scope.get("client")
        address = peer[0] if peer else "unknown"
        if not self.trusted or not self._is_trusted(address):
            return address
        forwarded = [
            value.decode("latin-1") for name, value in scope.get("headers", ()) if name == b"x-forwarded-for"
        ]
        hops = [hop.strip() for value in forwarded for hop in value.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                return hop if _ip(hop) else address
        return hops[0] if hops and _ip(hops[0]) else address


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header (``name`` in lower case), or None."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
