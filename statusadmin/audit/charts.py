"""The activity chart on /audit/, drawn on the server as SVG: no script, no chart library, and
nothing for the Content Security Policy to object to (colours are SVG attributes)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .selectors import Activity

# Stacking order, bottom up, with colours that stay apart for common colour-vision deficiencies.
SERIES = [
    ("succeeded", "Succeeded", "#2e7d32"),
    ("observed", "Outside the dashboard", "#6d6d6d"),
    ("rejected", "Rejected", "#e69f00"),
    ("failed", "Failed", "#c62828"),
    ("unknown", "Unknown", "#7b3fa0"),
    ("pending", "Pending", "#1f5fbf"),
    ("recorded", "Approval steps", "#00838f"),
]
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 160, 36, 22, 8


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    fill: str
    title: str


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    ticks: list[tuple[float, str]]  # (y, label) on the count axis
    labels: list[tuple[float, str]]  # (x, label) on the time axis
    legend: list[tuple[str, str, int]]  # (label, colour, total)
    title: str
    summary: str
    baseline: float
    left: int

    def svg(self) -> SafeString:
        """The drawing, as one string. A quarter of days is over 500 elements: the template
        engine renders them ten times slower and format_html four times slower, which would
        double the audit list's time (bench: "audit list, first page"). Only the titles are
        text, and they are escaped; everything else is numbers and fixed colours."""
        axis = "#5b6474"
        parts = [
            f'<svg width="100%" viewBox="0 0 {self.width} {self.height}" role="img" '
            'aria-labelledby="chart-title chart-desc">'
            f'<title id="chart-title">{escape(self.title)}</title>'
            f'<desc id="chart-desc">{escape(self.summary)}</desc>'
            f'<line x1="{self.left}" y1="{self.baseline}" x2="{self.width}" '
            f'y2="{self.baseline}" stroke="#999"/>'
        ]
        parts += [
            f'<text x="{self.left - 4}" y="{y}" text-anchor="end" dominant-baseline="middle" '
            f'font-size="10" fill="{axis}">{escape(label)}</text>'
            for y, label in self.ticks
        ]
        parts += [
            f'<rect x="{b.x}" y="{b.y}" width="{b.width}" height="{b.height}" '
            f'fill="{b.fill}"><title>{escape(b.title)}</title></rect>'
            for b in self.bars
        ]
        parts += [
            f'<text x="{x}" y="{self.height - 6}" text-anchor="middle" font-size="10" '
            f'fill="{axis}">{escape(label)}</text>'
            for x, label in self.labels
        ]
        parts.append("</svg>")
        return mark_safe("".join(parts))  # noqa: S308 - built above from numbers and escaped text


def build(activity: Activity) -> Chart:
    buckets = activity.buckets
    peak, ticks_at = _scale(max((b.total for b in buckets), default=0))
    plot_w, plot_h = WIDTH - LEFT - 4, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(len(buckets), 1)
    bar_w = max(slot * 0.8, 1)
    bars: list[Bar] = []
    for i, bucket in enumerate(buckets):
        x = LEFT + i * slot + (slot - bar_w) / 2
        stacked = 0
        for key, label, colour in SERIES:
            n = bucket.counts.get(key, 0)
            if not n:
                continue
            h = n / peak * plot_h
            y = TOP + plot_h - (stacked / peak * plot_h) - h
            stacked += n
            title = f"{_period(activity.unit, bucket.start)}: {n} {label.lower()}"
            bars.append(Bar(round(x, 1), round(y, 1), round(bar_w, 1), round(h, 1), colour, title))
    every = max(1, len(buckets) // 8)
    labels = [
        (
            round(LEFT + i * slot + slot / 2, 1),
            b.start.strftime("%d %b" if activity.unit != "month" else "%b %Y"),
        )
        for i, b in enumerate(buckets)
        if i % every == 0
    ]
    ticks = [(round(TOP + plot_h - plot_h * n / peak, 1), str(n)) for n in ticks_at]
    totals = activity.totals()
    legend = [
        (label, colour, totals.get(key, 0)) for key, label, colour in SERIES if totals.get(key)
    ]
    noun = "entry" if activity.total == 1 else "entries"
    summary = (
        f"{activity.total} {noun} from {activity.start:%d %b %Y} to {activity.end:%d %b %Y}, "
        f"drawn per {activity.unit}: "
        + (", ".join(f"{n} {label.lower()}" for label, _, n in legend) or "none")
        + "."
    )
    title = (
        f"Audit entries per {activity.unit}, {activity.start:%d %b %Y} to {activity.end:%d %b %Y}"
    )
    return Chart(WIDTH, HEIGHT, bars, ticks, labels, legend, title, summary, TOP + plot_h, LEFT)


def _scale(highest: int) -> tuple[int, list[int]]:
    """The top of the count axis and its ticks: whole numbers a fixed step apart (1, 2 or 5
    times a power of ten), at most five of them, the top at or above the highest bar."""
    highest = max(highest, 1)
    step, factors = 1, itertools.cycle((2, 2.5, 2))  # 1, 2, 5, 10, 20, 50, ...
    while -(-highest // step) > 4:
        step = int(step * next(factors))
    top = -(-highest // step) * step
    return top, list(range(0, top + 1, step))


def _period(unit: str, start) -> str:  # type: ignore[no-untyped-def]
    if unit == "day":
        return f"{start:%d %b %Y}"
    if unit == "week":
        return f"week of {start:%d %b %Y}"
    return f"{start:%B %Y}"
