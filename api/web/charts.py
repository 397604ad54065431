"""Server-side SVG charts (no JavaScript, no library): line charts over time and bar charts of counts.

Each chart is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` that says in words what it
shows; the page puts the same figures in a table next to it (the text alternative). Colours meet WCAG
contrast on white, and lines differ by dash pattern too, so no information rests on colour alone.
Only presentation attributes are used (no ``style``), so the pages' Content-Security-Policy holds.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from api.web.format import number_sv, percent_sv

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 36
COLOURS = ("#1f4e79", "#8a4b00", "#2e6b30", "#6b2e6b", "#4d4d4d", "#9c1c1c")
DASHES = ("", "6 4", "2 3", "10 3 2 3", "1 2", "8 2")
MAX_DATE_LABELS = 8  # up to this many distinct dates, each is labelled
MIN_LABEL_GAP = 52  # px between the centres of two x labels (a ``YYYY-MM`` label is about 42 px wide)
_ids = itertools.count()


@dataclass(frozen=True)
class Series:
    """One line: its name and (x, y) points; y None leaves a gap."""

    name: str
    points: Sequence[tuple[dt.date, float | None]]
    colour: str = ""
    dash: str = ""


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        high = low + 1.0
    step = (high - low) / (count - 1)
    return [low + step * i for i in range(count)]


def _y_label(value: float, as_percent: bool) -> str:
    return percent_sv(value) if as_percent else number_sv(value, 1 if abs(value) < 10 else 0)


def nice_top(value: float, steps: int = 4) -> float:
    """The smallest top of ``steps`` round steps (1, 2, 2,5, 4 or 5 × 10ⁿ each) at or above ``value``."""
    if value <= 0:
        return 1.0
    raw = value / steps
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 4, 5, 10) if m * magnitude >= raw - 1e-12)
    return step * steps


def x_tick_labels(dates: Sequence[dt.date], x_of: Callable[[dt.date], float]) -> list[tuple[float, str]]:
    """Where to write which date label under a time axis, never two closer than ``MIN_LABEL_GAP`` px.

    Few distinct dates (a yearly or biennial figure): each date as ``YYYY-MM`` under its own point, so a
    December figure is not read as next year's. Many (a monthly series): the year at each 1 January,
    and the first year at the first point only when its label has room before the next one.
    """
    distinct = sorted(set(dates))
    if not distinct:
        return []
    if len(distinct) <= MAX_DATE_LABELS:
        candidates = [(x_of(day), f"{day:%Y-%m}") for day in distinct]
    else:
        first, last = distinct[0], distinct[-1]
        candidates = [(x_of(first), str(first.year))] + [
            (x_of(dt.date(year, 1, 1)), str(year))
            for year in range(first.year + 1, last.year + 1)
            if dt.date(year, 1, 1) <= last
        ]
    labels: list[tuple[float, str]] = []
    for x, text in reversed(candidates):  # later labels win: the first year is the one that may go
        if not labels or labels[-1][0] - x >= MIN_LABEL_GAP:
            labels.append((x, text))
    return labels[::-1]


def line_chart(
    title: str,
    description: str,
    series: Sequence[Series],
    *,
    threshold: float | None = None,
    threshold_label: str = "",
    as_percent: bool = True,
    y_range: tuple[float, float] | None = None,
    y_format: Callable[[float], str] | None = None,
) -> Markup:
    """A line chart of ``series`` over dates, with an optional horizontal threshold line.

    ``y_format`` writes the y axis' tick labels (default: percentages when ``as_percent``, else numbers);
    ``y_range`` fixes the axis (default: from 0 to a little above the largest value).
    """
    chart_id = f"chart-{next(_ids)}"
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points if y is not None] + (
        [threshold] if threshold is not None else []
    )
    if not xs or not ys:
        return Markup(f'<p class="muted">{escape(title)}: inga uppgifter att visa.</p>')
    x0, x1 = min(xs), max(xs)
    span_days = (x1 - x0).days
    low, high = y_range if y_range else (min(0.0, *ys), max(ys) * 1.05 if max(ys) > 0 else 1.0)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: dt.date) -> float:
        if span_days == 0:  # one date only: its point in the middle
            return LEFT + plot_w / 2
        return LEFT + plot_w * (x - x0).days / span_days

    def py(y: float) -> float:
        return TOP + plot_h * (1 - (y - low) / (high - low or 1.0))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" class="chart" focusable="false">',
        f'<title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(description)}</desc>',
    ]
    for tick in _ticks(low, high):
        y = py(tick)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d9d9d9"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#333">'
            f"{escape(y_format(tick) if y_format else _y_label(tick, as_percent))}</text>"
        )
    for x, text in x_tick_labels(xs, px):
        parts.append(
            f'<text x="{min(x, WIDTH - MIN_LABEL_GAP / 2):.1f}" y="{HEIGHT - BOTTOM + 16}" '
            f'text-anchor="middle" font-size="11" fill="#333">{escape(text)}</text>'
        )
    if threshold is not None:
        y = py(threshold)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#9c1c1c" '
            f'stroke-width="1.5" stroke-dasharray="4 3"/>'
        )
    for index, line in enumerate(series):
        colour = line.colour or COLOURS[index % len(COLOURS)]
        dash = line.dash or DASHES[index % len(DASHES)]
        for segment in _segments(line.points):
            if len(segment) == 1:
                day, value = segment[0]
                parts.append(f'<circle cx="{px(day):.1f}" cy="{py(value):.1f}" r="2.5" fill="{colour}"/>')
                continue
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in segment)
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash_attr}/>'
            )
    parts.append("</svg>")
    legend = [
        f'<li><svg width="28" height="10" aria-hidden="true" focusable="false"><line x1="0" x2="28" y1="5" '
        f'y2="5" stroke="{line.colour or COLOURS[i % len(COLOURS)]}" stroke-width="2"'
        + (
            f' stroke-dasharray="{line.dash or DASHES[i % len(DASHES)]}"'
            if (line.dash or DASHES[i % len(DASHES)])
            else ""
        )
        + f"/></svg> {escape(line.name)}</li>"
        for i, line in enumerate(series)
    ]
    if threshold is not None:
        legend.append(
            '<li><svg width="28" height="10" aria-hidden="true" focusable="false">'
            '<line x1="0" x2="28" y1="5" '
            'y2="5" stroke="#9c1c1c" stroke-width="1.5" stroke-dasharray="4 3"/></svg> '
            f"{escape(threshold_label)}</li>"
        )
    return Markup(
        '<figure class="chart-figure">'
        + "".join(parts)
        + '<figcaption><ul class="legend">'
        + "".join(legend)
        + "</ul></figcaption></figure>"
    )


def _segments(points: Sequence[tuple[dt.date, float | None]]) -> list[list[tuple[dt.date, float]]]:
    segments: list[list[tuple[dt.date, float]]] = [[]]
    for x, y in sorted(points, key=lambda point: point[0]):
        if y is None:
            if segments[-1]:
                segments.append([])
            continue
        segments[-1].append((x, y))
    return [segment for segment in segments if segment]


def bar_chart(title: str, description: str, labels: Sequence[str], values: Sequence[int]) -> Markup:
    """Vertical bars of counts (e.g. complaints per quarter), every fourth label shown."""
    chart_id = f"chart-{next(_ids)}"
    if not values:
        return Markup(f'<p class="muted">{escape(title)}: inga uppgifter att visa.</p>')
    step = max(1, math.ceil(max(values) / 4))
    top = step * max(1, math.ceil(max(values) / step))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(values)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" class="chart" focusable="false">',
        f'<title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(description)}</desc>',
    ]
    for tick in range(0, top + 1, step):
        y = TOP + plot_h * (1 - tick / top)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d9d9d9"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#333">'
            f"{escape(number_sv(tick))}</text>"
        )
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        height = plot_h * value / top
        x = LEFT + slot * index
        parts.append(
            f'<rect x="{x + slot * 0.15:.1f}" y="{TOP + plot_h - height:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{height:.1f}" fill="#1f4e79"/>'
        )
        if index % 4 == 0:
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="start" font-size="11" '
                f'fill="#333">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return Markup('<figure class="chart-figure">' + "".join(parts) + "</figure>")


@dataclass(frozen=True)
class Bar:
    """One horizontal bar: a share with its interval (None where unknown); ``emphasis`` draws it dark."""

    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    emphasis: bool = False


def interval_bar_chart(
    title: str,
    description: str,
    bars: Sequence[Bar],
    *,
    reference: float | None = None,
    reference_label: str = "",
) -> Markup:
    """Horizontal bars of shares on a 0–100 % axis, each with its interval as a whisker, and an optional
    vertical reference line (e.g. the share of all inspected units that had a deficiency)."""
    chart_id = f"chart-{next(_ids)}"
    shown = [bar for bar in bars if bar.value is not None]
    if not shown:
        return Markup(f'<p class="muted">{escape(title)}: inga uppgifter att visa.</p>')
    label_w, row_h, top, bottom = 170, 30, 8, 30
    plot_w = WIDTH - label_w - RIGHT - 40  # room for the value written after the longest bar
    height = top + row_h * len(shown) + bottom

    def px(share: float) -> float:
        return label_w + plot_w * min(max(share, 0.0), 1.0)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" class="chart" focusable="false">',
        f'<title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(description)}</desc>',
    ]
    axis_y = top + row_h * len(shown)
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = px(tick)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{axis_y}" stroke="#d9d9d9"/>')
        parts.append(
            f'<text x="{x:.1f}" y="{axis_y + 16}" text-anchor="middle" font-size="11" fill="#333">'
            f"{escape(percent_sv(tick))}</text>"
        )
    for index, bar in enumerate(shown):
        assert bar.value is not None
        y = top + row_h * index
        middle = y + row_h / 2
        colour = "#1f4e79" if bar.emphasis else "#6b6b6b"
        parts.append(
            f'<text x="{label_w - 8}" y="{middle + 4:.1f}" text-anchor="end" font-size="12" fill="#222">'
            f"{escape(bar.label)}</text>"
        )
        parts.append(
            f'<rect x="{label_w}" y="{y + 7:.1f}" width="{px(bar.value) - label_w:.1f}" '
            f'height="{row_h - 14}" fill="{colour}"/>'
        )
        end = bar.value
        if bar.low is not None and bar.high is not None:
            x0, x1 = px(bar.low), px(bar.high)
            parts.append(
                f'<path d="M{x0:.1f},{middle - 6:.1f}v12M{x0:.1f},{middle:.1f}H{x1:.1f}'
                f'M{x1:.1f},{middle - 6:.1f}v12" stroke="#111" stroke-width="1.5" fill="none"/>'
            )
            end = max(end, bar.high)
        parts.append(
            f'<text x="{px(end) + 6:.1f}" y="{middle + 4:.1f}" font-size="11" fill="#222">'
            f"{escape(percent_sv(bar.value))}</text>"
        )
    legend = []
    if reference is not None:
        x = px(reference)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{axis_y}" stroke="#9c1c1c" stroke-width="2" '
            f'stroke-dasharray="5 3"/>'
        )
        legend.append(
            '<li><svg width="28" height="10" aria-hidden="true" focusable="false">'
            '<line x1="0" x2="28" y1="5" y2="5" stroke="#9c1c1c" stroke-width="2" '
            'stroke-dasharray="5 3"/></svg> '
            f"{escape(reference_label)}</li>"
        )
    legend.append(
        '<li><svg width="28" height="12" aria-hidden="true" focusable="false">'
        '<path d="M2,1v10M2,6H26M26,1v10" stroke="#111" stroke-width="1.5" fill="none"/></svg> '
        "troligen mellan (95 % säkerhet)</li>"
    )
    parts.append("</svg>")
    return Markup(
        '<figure class="chart-figure">'
        + "".join(parts)
        + '<figcaption><ul class="legend">'
        + "".join(legend)
        + "</ul></figcaption></figure>"
    )


def share_bar_chart(
    title: str,
    description: str,
    labels: Sequence[str],
    shares: Sequence[float],
    *,
    reference: float | None = None,
    reference_label: str = "",
) -> Markup:
    """Horizontal bars of shares (0–1), one row per label, with an optional vertical reference line."""
    chart_id = f"chart-{next(_ids)}"
    if not shares:
        return Markup(f'<p class="muted">{escape(title)}: inga uppgifter att visa.</p>')
    label_w, row_h, top, right = 170, 22, 28, 60
    height = top + row_h * len(shares) + 10
    plot_w = WIDTH - label_w - right
    high = max([*shares, reference or 0.0]) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" class="chart" focusable="false">',
        f'<title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(description)}</desc>',
    ]
    for index, (label, share) in enumerate(zip(labels, shares, strict=True)):
        y = top + row_h * index
        width = plot_w * share / high
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15:.1f}" text-anchor="end" font-size="12" fill="#1a1a1a">'
            f"{escape(label)}</text>"
            f'<rect x="{label_w}" y="{y + 3:.1f}" width="{width:.1f}" height="{row_h - 6}" fill="#1f4e79"/>'
            f'<text x="{label_w + width + 4:.1f}" y="{y + 15:.1f}" font-size="12" fill="#1a1a1a">'
            f"{escape(percent_sv(share))}</text>"
        )
    if reference is not None:
        x = label_w + plot_w * reference / high
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 6}" y2="{height - 6}" stroke="#9c1c1c" '
            f'stroke-width="2" stroke-dasharray="6 3"/>'
            f'<text x="{x:.1f}" y="{top - 10}" text-anchor="middle" font-size="12" fill="#9c1c1c">'
            f"{escape(reference_label)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
