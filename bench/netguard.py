"""Refuse every network connection that does not go to the loopback range.

The benchmarks talk only to the emulator on 127.0.0.1. Third-party tools carry
DingTalk's real address in their code (Apprise's plugin does); should a patch that
redirects them ever miss, this guard makes the connection fail at once instead of
sending anything off the machine. Installed once for the benchmark process.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Final

_ORIGINAL_CONNECT: Final = socket.socket.connect
_ORIGINAL_CONNECT_EX: Final = socket.socket.connect_ex


class NonLoopbackConnectionError(ConnectionRefusedError):
    """A connection to an address outside 127.0.0.0/8 and ::1 was refused."""


def _check(address: object) -> None:
    """Raise unless ``address`` is a loopback IP (or a Unix socket path)."""
    if isinstance(address, (str, bytes)):
        return  # AF_UNIX: local by definition
    host = address[0] if isinstance(address, tuple) and address else None
    try:
        loopback = isinstance(host, str) and ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise NonLoopbackConnectionError(
            f"the benchmark may only connect to loopback, not {host!r}"
        )


def _connect(self: socket.socket, address: object) -> None:
    """socket.connect, for loopback addresses only."""
    _check(address)
    _ORIGINAL_CONNECT(self, address)  # type: ignore[arg-type]


def _connect_ex(self: socket.socket, address: object) -> int:
    """socket.connect_ex, for loopback addresses only."""
    _check(address)
    return _ORIGINAL_CONNECT_EX(self, address)  # type: ignore[arg-type]


def install() -> None:
    """Guard every socket this process connects from now on."""
    socket.socket.connect = _connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign,assignment]
