"""Tell whether a host is local (loopback or private network), where http:// is fine."""

from __future__ import annotations

import ipaddress
from typing import Final

LOCAL_HOST_NAMES: Final = frozenset({"localhost"})
"""Host names that always mean this machine."""

LOCAL_HOST_SUFFIXES: Final = (".localhost", ".local", ".lan", ".home.arpa", ".internal")
"""Name suffixes used for private networks (RFC 6761, 6762, 8375 and common use)."""


def is_local_host(host: str) -> bool:
    """Return whether ``host`` is a loopback or private-network address or name.

    Plain http:// is accepted only for such hosts (a local proxy, the emulator): a
    webhook carries its access token in the URL, and the app APIs carry tokens in
    headers, so anything that crosses the internet must be https://.
    """
    name = host.strip().strip("[]").rstrip(".").casefold()
    if not name:
        return False
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return (
            name in LOCAL_HOST_NAMES
            or name.endswith(LOCAL_HOST_SUFFIXES)
            or "." not in name  # a single-label name only resolves on the LAN
        )
    return address.is_loopback or address.is_private or address.is_link_local
