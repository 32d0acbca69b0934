"""Draw the benchmark plot as a small hand-written SVG (no plotting library)."""

from __future__ import annotations

from html import escape
import math
from typing import TYPE_CHECKING, Final

from .burst import OUR_ROWS, RATE_LIMIT, RATE_WINDOW
from .overhead import FLOORS, LATENCY_PATHS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .burst import BurstResult
    from .overhead import OverheadResult

WIDTH: Final = 820
FONT: Final = "font-family:sans-serif"
COLOURS: Final = (
    "#1b6ac9",
    "#0b8f8f",
    "#e8710a",
    "#7c4dbd",
    "#c5221f",
    "#188038",
    "#5f6368",
)
DASHES: Final = ("", "", "8 4", "2 3", "10 3 2 3", "6 6", "1 5")
FLOOR_COLOUR: Final = "#5f6368"
GRID: Final = "#dadce0"

# Panel A: deliveries over virtual time.
A_LEFT: Final = 60.0
A_RIGHT: Final = 470.0
A_TOP: Final = 60.0
A_BOTTOM: Final = 350.0
# Panel B: latency per message.
B_LABELS: Final = 20.0
B_LEFT: Final = 330.0
B_RIGHT: Final = 760.0
B_TOP: Final = 480.0
B_ROW: Final = 44.0
HEIGHT: Final = round(B_TOP + B_ROW * len(LATENCY_PATHS) + 45)


class _Canvas:
    """Collect SVG elements."""

    def __init__(self) -> None:
        """Start with a white background."""
        self.parts: list[str] = [
            f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="white"/>'
        ]

    def text(  # noqa: PLR0913 - the attributes of an SVG text
        self,
        x: float,
        y: float,
        content: str,
        *,
        size: int = 12,
        anchor: str = "start",
        weight: str = "normal",
        colour: str = "#202124",
    ) -> None:
        """Add a text."""
        self.parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}"'
            f' text-anchor="{anchor}" font-weight="{weight}" fill="{colour}"'
            f' style="{FONT}">{escape(content)}</text>'
        )

    def line(  # noqa: PLR0913 - the attributes of an SVG line
        self,
        x1: float,
        y1: float,
        x2: float,
        y2: float,
        *,
        colour: str = "#202124",
        width: float = 1.0,
    ) -> None:
        """Add a straight line."""
        self.parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"'
            f' stroke="{colour}" stroke-width="{width}"/>'
        )

    def polyline(
        self,
        points: Sequence[tuple[float, float]],
        *,
        colour: str,
        width: float,
        dash: str = "",
    ) -> None:
        """Add a line through ``points``."""
        coordinates = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        dashing = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(
            f'<polyline points="{coordinates}" fill="none" stroke="{colour}"'
            f' stroke-width="{width}" stroke-linejoin="round"{dashing}/>'
        )

    def rect(
        self, x: float, y: float, width: float, height: float, *, colour: str
    ) -> None:
        """Add a filled rectangle."""
        self.parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(width, 0.5):.1f}"'
            f' height="{height:.1f}" fill="{colour}"/>'
        )

    def render(self) -> str:
        """Return the SVG document."""
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}"'
            f' height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}">\n'
            + "\n".join(self.parts)
            + "\n</svg>\n"
        )


def _steps(
    times: Sequence[float], x_max: float, messages: int
) -> list[tuple[float, float]]:
    """Return plot points of a cumulative delivery count over time."""

    def x(seconds: float) -> float:
        return A_LEFT + (A_RIGHT - A_LEFT) * min(seconds, x_max) / x_max

    def y(count: float) -> float:
        return A_BOTTOM - (A_BOTTOM - A_TOP) * count / messages

    points = [(x(0), y(0))]
    for count, at in enumerate(sorted(times), start=1):
        points += [(x(at), y(count - 1)), (x(at), y(count))]
    points.append((x(x_max), y(len(times))))
    return points


def _dingtalk_maximum(messages: int) -> list[float]:
    """Return the earliest time of each message at 20 per rolling minute."""
    return [(index // RATE_LIMIT) * RATE_WINDOW for index in range(messages)]


def _burst_panel(canvas: _Canvas, burst: BurstResult) -> None:
    """Draw the deliveries of every sender's burst over virtual time."""
    messages = burst.messages
    latest = max((max(row.timeline, default=0.0) for row in burst.rows), default=0.0)
    x_max = max(RATE_WINDOW * 3, math.ceil(latest / RATE_WINDOW + 0.25) * RATE_WINDOW)
    canvas.text(
        A_LEFT - 40,
        30,
        f"Burst of {messages} messages to one robot: delivered over virtual time",
        size=15,
        weight="bold",
    )
    step = 60 if x_max <= 600 else 120  # noqa: PLR2004 - tick spacing
    for second in range(0, int(x_max) + 1, step):
        x = A_LEFT + (A_RIGHT - A_LEFT) * second / x_max
        canvas.line(x, A_TOP, x, A_BOTTOM, colour=GRID)
        canvas.text(x, A_BOTTOM + 16, f"{second}", anchor="middle", size=11)
    for count in range(0, messages + 1, 10):
        y = A_BOTTOM - (A_BOTTOM - A_TOP) * count / messages
        canvas.line(A_LEFT, y, A_RIGHT, y, colour=GRID)
        canvas.text(A_LEFT - 6, y + 4, f"{count}", anchor="end", size=11)
    canvas.line(A_LEFT, A_BOTTOM, A_RIGHT, A_BOTTOM)
    canvas.line(A_LEFT, A_TOP, A_LEFT, A_BOTTOM)
    canvas.text(
        (A_LEFT + A_RIGHT) / 2, A_BOTTOM + 36, "virtual seconds", anchor="middle"
    )
    canvas.text(A_LEFT - 40, A_TOP - 10, "delivered", size=11)
    canvas.polyline(
        _steps(_dingtalk_maximum(messages), x_max, messages),
        colour="#9aa0a6",
        width=6,
    )
    legend_y = A_TOP + 4
    canvas.rect(A_RIGHT + 20, legend_y - 4, 26, 6, colour="#9aa0a6")
    canvas.text(A_RIGHT + 52, legend_y + 3, "fastest DingTalk allows (20/min)", size=11)
    for index, row in enumerate(burst.rows):
        colour = COLOURS[index % len(COLOURS)]
        dash = DASHES[index % len(DASHES)]
        width = 3.0 if row.tool in OUR_ROWS else 2.0
        canvas.polyline(
            _steps(row.timeline, x_max, messages), colour=colour, width=width, dash=dash
        )
        y = legend_y + 28 * (index + 1)
        canvas.polyline(
            [(A_RIGHT + 20, y), (A_RIGHT + 46, y)],
            colour=colour,
            width=width,
            dash=dash,
        )
        lost = row.silently_lost.median
        label = f"{len(row.timeline)} delivered"
        if lost:
            label += f", {lost:.0f} lost silently"
        canvas.text(A_RIGHT + 52, y + 1, _short(row.tool), size=11)
        canvas.text(A_RIGHT + 52, y + 14, label, size=10, colour="#5f6368")


def _short(tool: str) -> str:
    """Shorten a sender's name for the legend."""
    return (
        tool.replace("Apprise 2.3.0, ", "Apprise: ")
        .replace("new Apprise object per message", "new object per msg")
        .replace("one Apprise object", "one object")
        .replace("DingtalkChatbot 1.5.7", "DingtalkChatbot")
    )


def _latency_panel(canvas: _Canvas, overhead: OverheadResult) -> None:
    """Draw each path's latency: median bar, min-max whisker, log scale."""
    summaries = list(overhead.latency_ms.items())
    low = min(summary.minimum for _, summary in summaries)
    high = max(summary.maximum for _, summary in summaries)
    first = math.floor(math.log10(max(low, 1e-3)))
    last = math.ceil(math.log10(max(high, 1e-3)))
    last = max(last, first + 1)

    def x(value: float) -> float:
        share = (math.log10(max(value, 10.0**first)) - first) / (last - first)
        return B_LEFT + (B_RIGHT - B_LEFT) * share

    canvas.text(
        B_LABELS,
        B_TOP - 40,
        "Latency of one message until DingTalk's answer (ms, log scale)",
        size=15,
        weight="bold",
    )
    canvas.text(
        B_LABELS,
        B_TOP - 20,
        f"bar: median of {overhead.latency_messages}; whisker: min to max;"
        " emulator on 127.0.0.1, pacing off",
        size=11,
        colour="#5f6368",
    )
    bottom = B_TOP + B_ROW * len(summaries)
    for exponent in range(first, last + 1):
        value = 10.0**exponent
        canvas.line(x(value), B_TOP, x(value), bottom, colour=GRID)
        canvas.text(x(value), bottom + 16, f"{value:g}", anchor="middle", size=11)
    for index, (name, summary) in enumerate(summaries):
        top = B_TOP + B_ROW * index + 8
        middle = top + (B_ROW - 16) / 2
        colour = FLOOR_COLOUR if name in FLOORS else COLOURS[0]
        canvas.rect(B_LEFT, top, x(summary.median) - B_LEFT, B_ROW - 16, colour=colour)
        canvas.line(x(summary.minimum), middle, x(summary.maximum), middle, width=1.5)
        for end in (summary.minimum, summary.maximum):
            canvas.line(x(end), middle - 6, x(end), middle + 6, width=1.5)
        canvas.text(B_LABELS, middle + 4, name, size=12)
        canvas.text(
            x(summary.maximum) + 6, middle + 4, f"{summary.median:.2f}", size=11
        )
    canvas.line(B_LEFT, bottom, B_RIGHT, bottom)


def render_svg(burst: BurstResult, overhead: OverheadResult) -> str:
    """Return the SVG: the burst's deliveries over time, then the latencies."""
    canvas = _Canvas()
    _burst_panel(canvas, burst)
    _latency_panel(canvas, overhead)
    return canvas.render()
