"""How much work each benchmark does: the default run and ``--quick``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True, kw_only=True)
class Sizes:
    """Message counts and repetitions of one benchmark run."""

    warmup: int
    latency_messages: int
    throughput_messages: int
    throughput_runs: int
    burst_messages: int
    burst_runs: int
    scale_robots: int
    scale_messages: int
    scale_runs: int
    setup_runs: int
    import_runs: int
    persist_samples: int
    """Timed messages per queue level and run (the level grows by one each)."""
    persist_runs: int
    split_runs: int
    split_timeout: float
    """Seconds one prepare() call may take before it is stopped."""
    app_token_messages: int
    """Messages per app token run (half to a person, half to a group)."""
    receive_messages: int
    """Timed messages per receive path (Home Assistant and the bare client)."""
    disconnects: int
    """Disconnect frames per receiving client."""


FULL: Final = Sizes(
    warmup=20,
    latency_messages=500,
    throughput_messages=300,
    throughput_runs=7,
    burst_messages=60,
    burst_runs=5,
    scale_robots=10,
    scale_messages=100,
    scale_runs=5,
    setup_runs=7,
    import_runs=7,
    persist_samples=50,
    persist_runs=3,
    split_runs=5,
    split_timeout=30.0,
    app_token_messages=1000,
    receive_messages=300,
    disconnects=7,
)

QUICK: Final = Sizes(
    warmup=2,
    latency_messages=10,
    throughput_messages=20,
    throughput_runs=1,
    burst_messages=60,
    burst_runs=1,
    scale_robots=2,
    scale_messages=10,
    scale_runs=1,
    setup_runs=1,
    import_runs=1,
    persist_samples=5,
    persist_runs=1,
    split_runs=1,
    split_timeout=2.0,
    app_token_messages=200,
    receive_messages=10,
    disconnects=2,
)
