"""Charts as plain SVG strings: served inline by the dashboard (no JavaScript, no CDN) and
embedded unchanged in the PDF report. Pure functions of numbers and labels.

Every chart is readable without colour: values are printed as text, highlighted items are
hatched and marked with a symbol, and the dashboard shows the data table beside each one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

Formatter = Callable[[float], str]

_PATTERN = (
    '<defs><pattern id="hatch" patternUnits="userSpaceOnUse" width="6" height="6" '
    'patternTransform="rotate(45)"><rect width="6" height="6" fill="#d9dee4"/>'
    '<line x1="0" y1="0" x2="0" y2="6" stroke="#1b1f24" stroke-width="2"/></pattern></defs>'
)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    low: float | None = None
    high: float | None = None
    highlight: bool = False


def _svg(width: int, height: int, title: str, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}" class="chart" '
        f'font-family="DejaVu Sans, system-ui, sans-serif" font-size="12">'
        f"<title>{escape(title)}</title>{_PATTERN}{body}</svg>"
    )


def interval_bars(bars: Sequence[Bar], title: str, fmt: Formatter, *, low: float = 25.0,
                  high: float = 100.0, marks: Sequence[tuple[float, str]] = (),
                  label_width: int = 250) -> str:
    """Horizontal bars with their interval as whiskers and the value printed; `marks` are
    vertical reference lines (e.g. grade cuts) with a label."""
    row, top, width = 26, 22, 780
    plot_left, plot_right = label_width, width - 70
    height = top + row * len(bars) + 24

    def x(value: float) -> float:
        value = min(max(value, low), high)
        return plot_left + (value - low) / (high - low) * (plot_right - plot_left)

    parts = []
    for value, text in marks:
        parts.append(f'<line x1="{x(value):.1f}" y1="{top - 6}" x2="{x(value):.1f}" '
                     f'y2="{height - 20}" stroke="#8a939d" stroke-dasharray="3 3"/>'
                     f'<text x="{x(value):.1f}" y="{top - 9}" text-anchor="middle" '
                     f'font-size="10" fill="#4a525c">{escape(text)}</text>')
    for i, bar in enumerate(bars):
        y = top + i * row
        fill = "url(#hatch)" if bar.highlight else "#7fa7cf"
        marker = "▼ " if bar.highlight else ""
        label = marker + bar.label
        label = label if len(label) <= 34 else label[:33] + "…"
        parts.append(
            f'<text x="{plot_left - 8}" y="{y + 15}" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect x="{plot_left}" y="{y + 4}" width="{max(x(bar.value) - plot_left, 0):.1f}" '
            f'height="14" fill="{fill}" stroke="#1b1f24" stroke-width="0.5"/>'
        )
        if bar.low is not None and bar.high is not None:
            x0, x1 = x(bar.low), x(bar.high)
            parts.append(
                f'<line x1="{x0:.1f}" y1="{y + 11}" x2="{x1:.1f}" y2="{y + 11}" '
                f'stroke="#1b1f24" stroke-width="1.5"/>'
                f'<line x1="{x0:.1f}" y1="{y + 6}" x2="{x0:.1f}" y2="{y + 16}" '
                f'stroke="#1b1f24" stroke-width="1.5"/>'
                f'<line x1="{x1:.1f}" y1="{y + 6}" x2="{x1:.1f}" y2="{y + 16}" '
                f'stroke="#1b1f24" stroke-width="1.5"/>'
            )
        parts.append(f'<text x="{plot_right + 8}" y="{y + 15}">{escape(fmt(bar.value))}'
                     "</text>")
    axis_y = height - 18
    parts.append(f'<line x1="{plot_left}" y1="{axis_y}" x2="{plot_right}" y2="{axis_y}" '
                 'stroke="#1b1f24"/>')
    for tick in range(int(low), int(high) + 1, 25 if high - low > 50 else 5):
        parts.append(f'<text x="{x(tick):.1f}" y="{axis_y + 13}" text-anchor="middle" '
                     f'font-size="10">{tick}</text>')
    return _svg(width, height, title, "".join(parts))


def trend(points: Sequence[Bar], title: str, fmt: Formatter, *, low: float = 25.0,
          high: float = 100.0) -> str:
    """The index over consecutive periods: markers joined by a line, intervals as
    whiskers, values printed above each marker."""
    width, height, left, right, top, bottom = 720, 240, 90, 70, 24, 40
    if not points:
        return _svg(width, height, title, "")
    values = [p.value for p in points] + [p.low for p in points if p.low is not None] + [
        p.high for p in points if p.high is not None]
    lo = max(low, min(values) - 3)
    hi = min(high, max(values) + 3)
    if hi - lo < 5:
        lo, hi = max(low, lo - 2.5), min(high, hi + 2.5)
    step = (width - left - right) / max(len(points) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return (left + (i * step if len(points) > 1 else (width - left - right) / 2),
                top + (hi - v) / (hi - lo) * (height - top - bottom))

    parts = []
    line = " ".join(f"{xy(i, p.value)[0]:.1f},{xy(i, p.value)[1]:.1f}"
                    for i, p in enumerate(points))
    parts.append(f'<polyline points="{line}" fill="none" stroke="#0b5cad" stroke-width="2"/>')
    for i, p in enumerate(points):
        x, y = xy(i, p.value)
        if p.low is not None and p.high is not None:
            y0, y1 = xy(i, p.low)[1], xy(i, p.high)[1]
            parts.append(f'<line x1="{x:.1f}" y1="{y0:.1f}" x2="{x:.1f}" y2="{y1:.1f}" '
                         'stroke="#1b1f24" stroke-width="1.5"/>')
        shape = (f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" '
                 'fill="#1b1f24"/>' if p.highlight else
                 f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="#fff" stroke="#1b1f24" '
                 'stroke-width="2"/>')
        parts.append(shape)
        parts.append(f'<text x="{x:.1f}" y="{y - 10:.1f}" text-anchor="middle" '
                     f'font-weight="600">{escape(fmt(p.value))}</text>')
        parts.append(f'<text x="{x:.1f}" y="{height - bottom + 18}" text-anchor="middle" '
                     f'font-size="11">{escape(p.label)}</text>')
    parts.append(f'<text x="4" y="{top + 4}" font-size="10">{escape(fmt(hi))}</text>'
                 f'<text x="4" y="{height - bottom}" font-size="10">{escape(fmt(lo))}</text>')
    return _svg(width, height, title, "".join(parts))


def heatmap(cells: dict[tuple[int, int], float], rows: Sequence[str], hours: Sequence[int],
            title: str, fmt: Formatter, *, low: float | None = None,
            high: float | None = None) -> str:
    """A weekday x hour grid; each cell shows its number, shading only repeats it."""
    cell_w, cell_h, left, top = 40, 26, 70, 22
    width = left + cell_w * len(hours) + 10
    height = top + cell_h * len(rows) + 10
    values = [v for v in cells.values() if v is not None]
    lo = low if low is not None else (min(values) if values else 0)
    hi = high if high is not None else (max(values) if values else 1)
    parts = []
    for c, hour in enumerate(hours):
        parts.append(f'<text x="{left + c * cell_w + cell_w / 2}" y="{top - 6}" '
                     f'text-anchor="middle" font-size="10">{hour:02d}</text>')
    for r, name in enumerate(rows):
        y = top + r * cell_h
        parts.append(f'<text x="{left - 6}" y="{y + 17}" text-anchor="end">'
                     f"{escape(name)}</text>")
        for c, hour in enumerate(hours):
            value = cells.get((r, hour))
            x = left + c * cell_w
            if value is None:
                parts.append(f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}"'
                             ' fill="#fff" stroke="#d9dee4"/>')
                continue
            share = 0.0 if hi == lo else (value - lo) / (hi - lo)
            shade = int(245 - 150 * share)
            ink = "#000" if shade > 150 else "#fff"
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" '
                f'fill="rgb({shade},{shade},{min(255, shade + 10)})" stroke="#d9dee4"/>'
                f'<text x="{x + (cell_w - 2) / 2}" y="{y + 17}" text-anchor="middle" '
                f'font-size="10" fill="{ink}">{escape(fmt(value))}</text>')
    return _svg(width, height, title, "".join(parts))
