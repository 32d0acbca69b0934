"""Tell local hosts (plain http:// allowed) from hosts on the internet."""

from __future__ import annotations

import pytest

from custom_components.dingtalk.api import is_local_host


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("10.1.2.3", True),
        ("172.31.0.1", True),
        ("192.168.0.10", True),
        ("169.254.1.1", True),
        ("fe80::1", True),
        ("fd00::5", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("ha.localhost", True),
        ("nas.local", True),
        ("proxy.lan", True),
        ("box.home.arpa", True),
        ("svc.internal", True),
        ("homeassistant", True),
        ("", False),
        (" ", False),
        ("8.8.8.8", False),
        ("2001:4860:4860::8888", False),
        ("oapi.dingtalk.com", False),
        ("example.org", False),
        ("local.example.org", False),
        ("lan.evil.com", False),
    ],
)
def test_is_local_host(host: str, local: bool) -> None:
    """Loopback, private and link-local addresses and LAN names are local."""
    assert is_local_host(host) is local
