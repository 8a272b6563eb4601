"""The dashboard's charts, shared with the PDF report: from engine results to SVG."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

from survey.core import charts
from survey.ikm.engine import Estimate
from survey.ikm.standards import get_standard

Formatter = Callable[[float], str]


def grade_marks(standard: str) -> list[tuple[float, str]]:
    """Grade boundaries as reference lines (e.g. C|B at 76.61)."""
    std = get_standard(standard)
    bands = list(reversed(std.bands))  # D, C, B, A
    return [(float(upper.lower), f"{lower.grade}|{upper.grade}")
            for lower, upper in itertools.pairwise(bands)]


def elements_chart(estimate: Estimate, names: dict[str, str], fmt: Formatter, title: str,
                   weakest: Sequence[str] = ()) -> str:
    bars = [charts.Bar(f"{e.code} {names.get(e.code, '')}", e.nrr_converted, e.ci[0],
                       e.ci[1], e.code in weakest) for e in estimate.elements]
    return charts.interval_bars(bars, title, fmt, marks=grade_marks(estimate.standard))


def ranking_chart(rows: Sequence[tuple[str, Estimate]], fmt: Formatter, title: str,
                  highlight: Sequence[str] = ()) -> str:
    bars = [charts.Bar(label, est.ikm_converted, est.ci[0], est.ci[1],
                       label in highlight) for label, est in rows]
    standard = rows[0][1].standard if rows else "permenpan-14-2017"
    return charts.interval_bars(bars, title, fmt, marks=grade_marks(standard))


def trend_chart(points: Sequence[tuple[str, Estimate | None]], fmt: Formatter,
                title: str) -> str:
    bars = [charts.Bar(label, est.ikm_converted, est.ci[0], est.ci[1], i == len(points) - 1)
            for i, (label, est) in enumerate(points) if est is not None]
    return charts.trend(bars, title, fmt)


def arrival_charts(arrivals: dict[tuple[int, int], tuple[int, float | None]],
                   weekdays: Sequence[str], count_fmt: Formatter, mean_fmt: Formatter,
                   titles: tuple[str, str]) -> tuple[str, str]:
    """Two weekday x hour heatmaps: how many responses, and their mean score (1..4)."""
    hours = sorted({h for _d, h in arrivals}) or list(range(8, 16))
    hours = list(range(min(hours), max(hours) + 1))
    counts = {(d, h): float(n) for (d, h), (n, _m) in arrivals.items()}
    means = {(d, h): m for (d, h), (_n, m) in arrivals.items() if m is not None}
    return (charts.heatmap(counts, weekdays, hours, titles[0], count_fmt),
            charts.heatmap(means, weekdays, hours, titles[1], mean_fmt, low=1.0, high=4.0))
