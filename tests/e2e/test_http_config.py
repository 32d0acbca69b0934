"""The harness keeps Home Assistant on 127.0.0.1: it confirms the moved HTTP config.

Home Assistant 2026.10 moves the http: block the harness writes into
.storage/http as a pending config on the first start and, unless it is
confirmed within five minutes, reverts to every interface, port 8123, and
restarts. Nothing here waits five minutes: the tests look at the scheduled
revert (http/config's revert_at) and at the store instead.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
import re
from typing import TYPE_CHECKING, Any

import pytest
import pytest_socket

from devtools.hass_process import (
    DEFAULT_HTTP_PORT,
    HTTP_STORE,
    HassProcess,
    HttpBinding,
    HttpStoreError,
    check_http_store,
    stored_http_binding,
)
from devtools.process_util import LOOPBACK, HarnessError, free_port, tail, wait_for

from . import releases

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from .releases import HaRelease

pytestmark = pytest.mark.e2e

EVERY_INTERFACE = HttpBinding(None, DEFAULT_HTTP_PORT)
REVERT_DELAY = timedelta(minutes=5)


@pytest.fixture(
    scope="module",
    params=releases.ALL,
    ids=[release.test_id for release in releases.ALL],
)
def ha_release(request: pytest.FixtureRequest) -> HaRelease:
    """Run this module against every release (overrides conftest's fixture)."""
    release: HaRelease = request.param
    return release


@pytest.fixture(scope="module")
def unconfirmed(
    tmp_path_factory: pytest.TempPathFactory, ha_release: HaRelease
) -> Iterator[HassProcess]:
    """Return a Home Assistant started and onboarded, its HTTP config not confirmed."""
    ha_release.require()
    pytest_socket.enable_socket()  # 127.0.0.1 only, as in conftest's e2e fixture
    work_dir = tmp_path_factory.mktemp(f"http-{ha_release.test_id}")
    hass = HassProcess(
        work_dir / "config",
        log_path=work_dir / "home-assistant.log",
        python=ha_release.python,
    )
    try:
        try:
            hass.start()
            hass.wait_until_up()
            hass.onboard()
            hass.wait_until_running()
        except HarnessError as err:
            pytest.fail(f"{err}\n{tail(hass.log_path, 80)}", pytrace=False)
        yield hass
    finally:
        hass.stop()


def stored(hass: HassProcess) -> dict[str, Any]:
    """Return the data of <config>/.storage/http."""
    data: dict[str, Any] = json.loads(
        (hass.config_dir / HTTP_STORE).read_text("utf-8")
    )["data"]
    return data


def test_confirm_promotes_the_pending_config_and_cancels_the_revert(
    unconfirmed: HassProcess,
) -> None:
    """Before: our block on trial, revert due in 5 min. After: stable, no revert."""
    hass = unconfirmed
    ours = HttpBinding((LOOPBACK,), hass.port)
    before = hass.http_config()
    assert before is not None, "2026.10 and later have http/config"

    assert before["active_config_type"] == "pending"
    assert HttpBinding.of(before["pending"]) == ours
    assert HttpBinding.of(before["stable"]) == EVERY_INTERFACE  # what it reverts to
    revert_in = datetime.fromisoformat(before["revert_at"]) - datetime.now(UTC)
    assert timedelta(minutes=3) < revert_in <= REVERT_DELAY
    assert HttpBinding.of(stored(hass)["pending"]) == ours
    assert stored(hass)["pending"]["error"] is None

    assert hass.confirm_http_config() is True

    after = hass.http_config()
    assert after is not None
    assert after["active_config_type"] == "stable"
    assert after["pending"] is None
    assert after["revert_at"] is None
    assert HttpBinding.of(after["stable"]) == ours
    assert hass.http_binding() == ours

    def promoted_on_disk() -> dict[str, Any] | None:
        data = stored(hass)
        return data if data["pending"] is None else None

    data = wait_for(promoted_on_disk, timeout=10.0)
    assert data is not None, f"{HTTP_STORE} still has a pending config"
    assert HttpBinding.of(data["stable"]) == ours
    assert data["yaml_migration_done"] is True
    assert stored_http_binding(hass.config_dir) == ours

    # Nothing to promote any more: tolerated.
    assert hass.confirm_http_config() is False


def test_restart_comes_back_on_loopback_with_nothing_to_confirm(
    unconfirmed: HassProcess,
) -> None:
    """After a restart the stable config applies, with nothing pending or scheduled."""
    hass = unconfirmed
    hass.confirm_http_config()  # in case this test runs alone

    hass.restart()  # confirms again, which finds nothing to promote

    state = hass.http_config()
    assert state is not None
    assert state["active_config_type"] == "stable"
    assert state["pending"] is None
    assert state["revert_at"] is None
    assert hass.http_binding() == HttpBinding((LOOPBACK,), hass.port)
    assert hass.confirm_http_config() is False


def test_start_refuses_a_store_for_another_port(unconfirmed: HassProcess) -> None:
    """The store wins over configuration.yaml: a start on another port is refused."""
    unconfirmed.confirm_http_config()
    yaml_path = unconfirmed.config_dir / "configuration.yaml"
    yaml_before = yaml_path.read_text("utf-8")
    other = HassProcess(
        unconfirmed.config_dir,
        port=free_port(),
        configuration_yaml="http:\n  server_host: {host}\n  server_port: {port}\n",
        link_integration=False,
    )

    expected = (
        f"listen on {LOOPBACK}, port {unconfirmed.port}, "
        f"not on {LOOPBACK} alone, port {other.port}"
    )
    with pytest.raises(HttpStoreError, match=re.escape(expected)):
        other.start()

    assert other.pid is None
    assert yaml_path.read_text("utf-8") == yaml_before


def test_store_reverted_to_every_interface_is_refused(tmp_path: Path) -> None:
    """What 2026.10 leaves five minutes after an unconfirmed start is refused."""
    # Stable: every interface, port 8123; the moved block marked not promoted.
    config_dir = tmp_path / "reverted"
    (config_dir / ".storage").mkdir(parents=True)
    pending = {"server_host": [LOOPBACK], "server_port": 8123, "error": "not_promoted"}
    store = {
        "version": 2,
        "minor_version": 2,
        "key": "http",
        "data": {
            "stable": {"server_port": 8123, "error": None},
            "pending": pending,
            "yaml_migration_done": True,
        },
    }
    (config_dir / HTTP_STORE).write_text(json.dumps(store), "utf-8")

    assert stored_http_binding(config_dir) == EVERY_INTERFACE
    with pytest.raises(HttpStoreError, match="every interface, port 8123"):
        check_http_store(config_dir, 8123)
