"""The activity chart on /audit/, drawn on the server as SVG: no script, no chart library, and
nothing for the Content Security Policy to object to (colours are SVG attributes)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

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
    ("unchanged", "No change", "#a0a0a0"),
    ("to_confirm", "Not sent: needs confirmation", "#b8860b"),
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
        """The drawing. Built with format_html, which escapes every value (the titles are the
        only text). A quarter of days is over 500 elements: the template engine renders them
        ten times slower than this (bench: "audit list, first page")."""
        axis = "#5b6474"
        ticks = format_html_join(
            "",
            '<text x="{}" y="{}" text-anchor="end" dominant-baseline="middle" font-size="10" '
            'fill="{}">{}</text>',
            ((self.left - 4, y, axis, label) for y, label in self.ticks),
        )
        bars = format_html_join(
            "",
            '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>',
            ((b.x, b.y, b.width, b.height, b.fill, b.title) for b in self.bars),
        )
        labels = format_html_join(
            "",
            '<text x="{}" y="{}" text-anchor="middle" font-size="10" fill="{}">{}</text>',
            ((x, self.height - 6, axis, label) for x, label in self.labels),
        )
        return format_html(
            '<svg width="100%" viewBox="0 0 {} {}" role="img" '
            'aria-labelledby="chart-title chart-desc">'
            '<title id="chart-title">{}</title><desc id="chart-desc">{}</desc>'
            '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"/>{}{}{}</svg>',
            self.width, self.height, self.title, self.summary,
            self.left, self.baseline, self.width, self.baseline, ticks, bars, labels,
        )  # fmt: skip


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


def _period(unit: str, start: date) -> str:
    if unit == "day":
        return f"{start:%d %b %Y}"
    if unit == "week":
        return f"week of {start:%d %b %Y}"
    return f"{start:%B %Y}"
