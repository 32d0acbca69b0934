"""Sections 4 and 5 of BENCHMARKS.md: the durable queue's cost, and splitting."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .markdown import DASH, cells, number, paragraph, runs, table, times
from .persist import ATTEMPT, OPERATIONS, REMOVE, SEND
from .split_child import LINE, MEGABYTE
from .stats import ratio

if TYPE_CHECKING:
    from .persist import PersistResult, PersistRow
    from .split import SplitResult, SplitRow, SplitTiming

GROWTH_TOLERANCE: Final = 1.5
"""A median this many times the one with nothing queued counts as growing."""


def _by_operation(persist: PersistResult, operation: str) -> list[PersistRow]:
    """Return one operation's rows, lowest level first."""
    return [row for row in persist.rows if row.operation == operation]


def _growth(rows: list[PersistRow]) -> tuple[float, float]:
    """Return the largest wall and event-loop median against the lowest level's."""
    low = rows[0]
    return (
        max(ratio(row.wall_ms, low.wall_ms) for row in rows),
        max(ratio(row.loop_us, low.loop_us) for row in rows),
    )


def _levels(rows: list[PersistRow], figure: str) -> str:
    """Return "a / b / c" medians of one figure over the levels."""
    if figure == "wall":
        return " / ".join(f"{row.wall_ms.median:.2f}" for row in rows)
    return " / ".join(f"{row.loop_us.median:.0f}" for row in rows)


def _verdict(rows: list[PersistRow]) -> str:
    """Say whether the figures grow with the queue, from the measurements."""
    wall, loop = _growth(rows)
    if max(wall, loop) <= GROWTH_TOLERANCE:
        return (
            f"does not grow with the queue (largest median {times(wall)} wall and "
            f"{times(loop)} event loop of the lowest level's)"
        )
    return (
        f"**grows** with the queue (largest median {times(wall)} wall and "
        f"{times(loop)} event loop of the lowest level's)"
    )


def key_persist(persist: PersistResult, own_ms: float) -> str:
    """Return the durable queue's bullet of the key figures.

    ``own_ms`` is what §1 found the integration adds above a no-op action and a
    bare POST, for comparison with the queue's three commits per message.
    """
    send, remove = _by_operation(persist, SEND), _by_operation(persist, REMOVE)
    levels = " / ".join(_range(row, persist.samples) for row in send)
    commits = sum(
        _by_operation(persist, operation)[0].wall_ms.median
        for operation in (SEND, ATTEMPT, REMOVE)
    )
    return paragraph(f"""
        - **Durable queue:** queueing one {persist.payload_bytes:,} B message
        (`Outbox.async_send` answering `queued`, committed to SQLite) takes
        {_levels(send, "wall")} ms with {levels} others queued (median), the event
        loop busy for {_levels(send, "loop")} µs of it; it {_verdict(send)}.
        Removal after delivery: {_levels(remove, "wall")} ms, event loop
        {_levels(remove, "loop")} µs; it {_verdict(remove)}. A delivered message
        costs three commits (queued, write-ahead record, removal):
        {commits:.2f} ms of wall time together with the fewest queued, beside the
        {own_ms:.2f} ms that `dingtalk.send_message` takes above a no-op action
        plus a bare POST in §1.
    """)


def _range(row: PersistRow, width: int) -> str:
    """Return the range of other messages queued during the row's calls."""
    return f"{row.level}–{row.level + width - 1}"


def persist_section(persist: PersistResult) -> list[str]:
    """Return section 4."""
    rows: list[list[str]] = []
    for operation in OPERATIONS:
        chosen = _by_operation(persist, operation)
        low = chosen[0]
        rows += [
            [
                operation,
                _range(row, persist.samples),
                str(row.samples),
                *cells(row.wall_ms, 3),
                *cells(row.loop_us, 0),
                number(row.other_us.median, 0),
                times(ratio(row.wall_ms, low.wall_ms)),
                times(ratio(row.loop_us, low.loop_us)),
            ]
            for row in chosen
        ]
    header = [
        "Operation",
        "others queued",
        "n",
        "wall, ms (median)",
        "min",
        "max",
        "event loop, µs (median)",
        "min",
        "max",
        "other threads, µs (median)",
        "wall vs fewest queued",
        "event loop vs fewest queued",
    ]
    return [
        "## 4. The durable queue: cost per message",
        "",
        paragraph(f"""
            One robot, an in-process Home Assistant on virtual time, the SQLite
            queue in the benchmark's temporary folder (file system:
            {persist.filesystem}; WAL, `synchronous=FULL`). Twenty messages fill
            DingTalk's rate window, so the outbox waits and every further
            `Outbox.async_send` of a {persist.payload_bytes:,} B text payload
            answers `queued` with nothing delivered meanwhile:
            {persist.samples} timed calls per level and run, the queue holding
            {" / ".join(str(level) for level in persist.levels)} other messages at
            the first call of a level and one more at each call after it. Then
            virtual time runs until all {persist.delivered} messages are
            delivered, and every delivery's write-ahead record and removal are
            timed, grouped by how many others were queued at the time.
            {runs(persist.runs, "fresh instance")}.
        """),
        "",
        paragraph(f"""
            *Wall* is the call until it returned and its transaction committed
            (fsync included). *Event loop* is the CPU time of the event loop's
            thread over the same span (`time.thread_time()` read in the loop
            before and after): what the loop could not spend on anything else.
            *Other threads* is the process's remaining CPU time meanwhile, which
            is Home Assistant's executor, where SQLite and the JSON encoding run.
            The last two columns set each median against the one with the fewest
            messages queued; the key figures call a figure growing when one is
            over {times(GROWTH_TOLERANCE)}.
        """),
        "",
        *table(header, rows),
    ]


def _split_cells(timing: SplitTiming | None, timeout: float) -> list[str]:
    """Return the median, min and max cells of one implementation."""
    if timing is None:
        return [DASH, DASH, DASH]
    if timing.seconds is None:
        return [f"> {number(timeout * 1000, 0)} (stopped)", DASH, DASH]
    values = cells(timing.seconds, 1)
    if timing.timed_out:
        values[0] += " (a later call stopped)"
    return values


def _same(row: SplitRow) -> str:
    """Return whether both implementations made the same parts."""
    same = row.same_parts
    if same is None:
        return DASH
    return "yes" if same else "**no**"


def _speedup(row: SplitRow, timeout: float) -> str:
    """Return previous ÷ today (a lower bound when the previous one was stopped)."""
    today, previous = row.today.seconds, row.previous
    if today is None or previous is None:
        return DASH
    if previous.seconds is None:
        return f"> {times(timeout * 1000 / today.median)}"
    return times(ratio(previous.seconds, today))


def _label(row: SplitRow) -> str:
    """Return "one long line, 1 MB"."""
    return f"{row.shape}, {row.size / MEGABYTE:g} MB"


def _growth_note(split: SplitResult) -> str:
    """Say how each implementation's time grows from 1 MB to 4 MB, per shape."""
    notes: list[str] = []
    for shape in dict.fromkeys(row.shape for row in split.rows):
        small, large = (
            next(
                (r for r in split.rows if r.shape == shape and r.size == size),
                None,
            )
            for size in (MEGABYTE, 4 * MEGABYTE)
        )
        if small is None or large is None:
            continue
        growth = [
            f"{name} {times(ratio(big.seconds, little.seconds))}"
            for name, little, big in (
                ("today", small.today, large.today),
                ("previous", small.previous, large.previous),
            )
            if little is not None
            and big is not None
            and little.seconds is not None
            and big.seconds is not None
        ]
        if growth:
            notes.append(f"{shape}: {', '.join(growth)}")
    if not notes:
        return ""
    return paragraph(f"""
        The time for 4 MB against 1 MB (four times the text; ×4.00 is linear):
        {"; ".join(notes)}.
    """)


def key_split(split: SplitResult) -> str:
    """Return the splitting bullet of the key figures."""
    parts = []
    for row in split.rows:
        today = row.today.seconds
        text = f"{_label(row)}: " + (
            f"{today.median:,.0f} ms" if today is not None else "stopped"
        )
        if row.previous is not None:
            text += f" (the previous one: {_speedup(row, split.timeout)} as long)"
        parts.append(text)
    return paragraph(f"""
        - **Splitting** with `prepare()`: {"; ".join(parts)}.
    """)


def split_section(split: SplitResult) -> list[str]:
    """Return section 5."""
    rows = [
        [
            _label(row),
            str(row.today.parts) if row.today.parts is not None else DASH,
            *_split_cells(row.today, split.timeout),
            *_split_cells(row.previous, split.timeout),
            _speedup(row, split.timeout),
            _same(row),
        ]
        for row in split.rows
    ]
    header = [
        "Text message",
        "parts",
        "today, ms (median)",
        "min",
        "max",
        f"previous ({split.previous_commit}), ms (median)",
        "min",
        "max",
        "previous ÷ today",
        "same parts",
    ]
    missing = (
        [
            paragraph(f"""
                The previous implementation could not be timed:
                {split.previous_missing}.
            """),
            "",
        ]
        if split.previous_missing is not None
        else []
    )
    return [
        "## 5. Splitting a long text message",
        "",
        paragraph(f"""
            `custom_components.dingtalk.api.prepare(Text(content=…))` on a text of
            exactly 1 MB and 4 MB of UTF-8 (Chinese and ASCII): one line without
            a break, and lines of {len(LINE.encode())} bytes. Beside today's, the
            previous implementation (`prepare.py` of commit {split.previous_commit},
            taken from git into the benchmark's temporary folder and loaded
            there as a module of today's `api` package). Both run in one fresh
            interpreter on the same message, taking turns,
            {runs(split.runs, "call")} each; a call that takes longer than
            {split.timeout:g} s is stopped and that implementation is not timed
            again on that message. "Same parts" compares a hash of every part's
            JSON. The actions refuse a message over 100 000 bytes before it gets
            here: these sizes test the splitting itself.
        """),
        "",
        *missing,
        *table(header, rows),
        _growth_note(split),
        "",
    ]
