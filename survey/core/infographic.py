"""The public infographic: the one page an agency (or an MPP, over the desks of its
tenants) puts on its website and social media once a period is closed. Its index with
the interval and the grade in words, the respondents, their profile, the nine elements,
the follow-up plan, and a QR code of the public results page.

Drawn as hand-written SVG (portrait 1080x1350 or square 1080x1080), converted to PNG with
cairosvg and to an A4 PDF with WeasyPrint. Nothing here is translated: the caller (the web
layer, through gettext) gives every word in `Texts`; numbers come through its formatter.
Text never runs out of its box: lines are measured with the DejaVu Sans metrics (the
font the SVG asks for; wider than the usual fallbacks) and long names wrap or shrink.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from typing import Any

from sqlalchemy.orm import Session

from survey.core import qr
from survey.core.errors import NotFound
from survey.core.models import Agency
from survey.core.org.periods import closed_periods
from survey.core.periods import Period, PeriodError, parse_period
from survey.core.results import queries
from survey.core.results.dashboard import profile_counts
from survey.core.results.published import latest_closed_period, public_results

SIZES = {"portrait": (1080, 1350), "square": (1080, 1080)}
FONT = "DejaVu Sans, Verdana, sans-serif"

# Short element names for the infographic's narrow rows (index: 0 Indonesian, 1 English).
# Other questionnaires print their full element names, wrapped.
SHORT_NAMES: dict[str, dict[str, tuple[str, str]]] = {
    "permenpan-14-2017": {
        "U1": ("Persyaratan", "Requirements"),
        "U2": ("Prosedur", "Procedures"),
        "U3": ("Waktu penyelesaian", "Completion time"),
        "U4": ("Biaya/tarif", "Cost/tariff"),
        "U5": ("Produk layanan", "Service product"),
        "U6": ("Kompetensi pelaksana", "Staff competence"),
        "U7": ("Perilaku pelaksana", "Staff behaviour"),
        "U8": ("Sarana dan prasarana", "Facilities"),
        "U9": ("Penanganan pengaduan", "Complaint handling"),
    },
}

ACCENT, DARK, MUTED, SOFT, PAPER = "#0a5bb0", "#17202a", "#4f5b67", "#e6ecf2", "#ffffff"
GRADE_COLOURS = {"A": "#1b6b34", "B": "#0a5bb0", "C": "#8a4b00", "D": "#a3001b"}
PALETTE = ("#0a5bb0", "#f5a623", "#1b6b34", "#a3001b", "#6f4aa8", "#4f9fd6", "#8a4b00")
NOT_STATED = "#b7c0ca"

Number = Callable[[float, int], str]


@dataclass(frozen=True)
class Texts:
    """Every word of the infographic in one language, chosen by the caller (the web layer
    fills it with gettext; the core holds no translations), and its number format."""

    locale: str
    number: Number               # (value, decimals) -> "85,04" / "85.04"
    survey: str                  # the kicker above the agency's name
    index: str                   # "Community Satisfaction Index (IKM)"
    scale: str                   # "on a scale of 25 to 100"
    interval: str                # "95% interval"
    grade: str                   # "Grade"
    grades: Mapping[str, str]    # "A" -> "Very good"
    no_grade: str                # fewer than 10 responses
    respondents: str
    elements: str                # the heading of the element rows (NRR x 25)
    profile: str
    fields: Mapping[str, str]    # "sex" -> "Sex"
    choices: Mapping[str, Mapping[str, str]]  # "sex" -> {"L": "Male", ...}
    not_stated: str
    follow_ups: str
    no_follow_ups: str
    statuses: Mapping[str, str]  # "planned" -> "Planned"
    more_follow_ups: str         # said when the plan is longer than the page
    scan: str                    # beside the QR code
    basis: str                   # the regulation the index follows


@dataclass(frozen=True)
class Slice:
    code: str   # the stored choice ("" = not stated)
    label: str
    count: int


@dataclass(frozen=True)
class ElementRow:
    code: str
    name: str
    nrr: float
    index: float  # NRR x 25


@dataclass(frozen=True)
class Action:
    element: str  # the element's (short) name
    text: str
    status: str
    status_label: str


@dataclass(frozen=True)
class Infographic:
    agency_code: str
    agency_name: str
    period: Period
    period_label: str
    ikm: float
    ci: tuple[float, float]
    grade: str | None
    grade_words: str
    n: int
    elements: tuple[ElementRow, ...]
    profile: dict[str, tuple[Slice, ...]]
    actions: tuple[Action, ...]
    url: str  # the agency's public results page: what the QR code holds
    texts: Texts


def published_period(session: Session, key: str | None) -> Period:
    """The closed (published) period named by `key`, or the latest one when no key is
    given, as the public page shows. An open, unknown or unreadable period is NotFound:
    only published figures go on an infographic."""
    if not key:
        latest = latest_closed_period(session)
        if latest is None:
            raise NotFound("no period has been closed and published yet",
                           code="nothing_published")
        return latest
    key = key.strip()[:40]
    try:
        wanted = parse_period(key)
    except PeriodError:
        raise NotFound(f"{key!r} is not a published period", code="period_not_published",
                       period=key) from None
    for period in closed_periods(session):
        if period.key == wanted.key:
            return period
    raise NotFound(f"period {wanted.key} is not closed: its results are not published",
                   code="period_not_published", period=wanted.key)


def build(session: Session, agency: Agency, period: Period, texts: Texts,
          url: str) -> Infographic:
    """The infographic's figures: the public page's results of a closed period (for an
    MPP, the aggregate over its tenants' desks), with every label already in words."""
    data = public_results(session, agency, texts.locale, period)
    est = data.estimate
    if est is None:
        raise NotFound(f"{agency.code} has no results for {period.key}",
                       code="no_published_results", agency=agency.name, period=period.key)
    scope = queries.agency_scope(session, agency)
    short = SHORT_NAMES.get(scope.questionnaire.standard, {})
    column = 1 if texts.locale == "en" else 0

    def name(code: str) -> str:
        return short[code][column] if code in short else data.element_names.get(code, code)

    counts = profile_counts(session, [d.id for d in scope.desks], period)
    profile = {dim: tuple(Slice(code, texts.choices.get(dim, {}).get(code, code)
                                if code else texts.not_stated, n) for code, n in rows)
               for dim, rows in counts.items()}
    return Infographic(
        agency_code=agency.code, agency_name=agency.name, period=period,
        period_label=period.label(texts.locale), ikm=est.ikm_converted,
        ci=(est.ci[0], est.ci[1]), grade=est.grade,
        grade_words=texts.grades.get(est.grade, est.grade) if est.grade else texts.no_grade,
        n=est.n,
        elements=tuple(ElementRow(e.code, name(e.code), e.nrr, e.nrr_converted)
                       for e in est.elements),
        profile=profile,
        actions=tuple(Action(name(f.element_code), f.action, f.status,
                             texts.statuses.get(f.status, f.status))
                      for f in data.follow_ups),
        url=url, texts=texts)


# --- Measuring and fitting text ------------------------------------------------------------


@lru_cache(maxsize=2)
def _face(bold: bool) -> Any:
    """DejaVu Sans at 100 px, or None where the font is not installed (then an estimate
    on the wide side is used)."""
    from PIL import ImageFont

    try:
        return ImageFont.truetype("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf", 100)
    except OSError:  # pragma: no cover - fonts-dejavu-core is installed with the app
        return None


def text_width(text: str, size: float, bold: bool = False) -> float:
    face = _face(bold)
    if face is None:  # pragma: no cover
        return len(text) * size * (0.75 if bold else 0.66)
    return face.getlength(text) * size / 100


def wrap(text: str, width: float, size: float, bold: bool = False) -> list[str]:
    """Greedy word wrap to `width`; a word longer than a line is split (an address)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if text_width(candidate, size, bold) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        while text_width(word, size, bold) > width:
            cut = len(word) - 1
            while cut > 1 and text_width(word[:cut], size, bold) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    if line or not lines:
        lines.append(line)
    return lines


def fit(text: str, width: float, size: float, min_size: float, max_lines: int,
        bold: bool = False) -> tuple[list[str], float]:
    """The largest size from `size` down to `min_size` at which the text wraps into at
    most `max_lines` lines; below that, the last line ends with an ellipsis (only text
    people typed is ever that long: an agency's name fits in four lines at the least)."""
    current = size
    while True:
        lines = wrap(text, width, current, bold)
        if len(lines) <= max_lines:
            return lines, current
        if current - 2 < min_size:
            break
        current -= 2
    kept = lines[:max_lines]
    last = kept[-1]
    while last and text_width(last + "…", current, bold) > width:
        last = last[:-1].rstrip()
    kept[-1] = last + "…"
    return kept, current


LINE = 1.22  # line height, in font sizes


def block_height(lines: int, size: float) -> float:
    """From the top of the first line's em box to below the last line's descenders."""
    return size * (LINE * (lines - 1) + 1.2) if lines else 0.0


# --- Drawing -------------------------------------------------------------------------------


class _Draw:
    """SVG elements collected in order; every text escaped."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def rect(self, x: float, y: float, w: float, h: float, fill: str, rx: float = 0,
             extra: str = "") -> None:
        self.parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" '
                          f'height="{max(h, 0):.1f}" rx="{rx:g}" fill="{fill}"{extra}/>')

    def text(self, x: float, baseline: float, content: str, size: float, *,
             bold: bool = False, fill: str = DARK, anchor: str = "start",
             cls: str = "") -> None:
        attrs = ' font-weight="bold"' if bold else ""
        attrs += f' text-anchor="{anchor}"' if anchor != "start" else ""
        attrs += f' class="{cls}"' if cls else ""
        self.parts.append(f'<text x="{x:.1f}" y="{baseline:.1f}" font-size="{size:g}" '
                          f'fill="{fill}"{attrs}>{escape(content, quote=False)}</text>')

    def lines(self, x: float, top: float, lines: Sequence[str], size: float,
              **kwargs: Any) -> float:
        """Lines from `top` down; returns the y below them."""
        for i, line in enumerate(lines):
            self.text(x, top + size * (0.95 + LINE * i), line, size, **kwargs)
        return top + block_height(len(lines), size)

    def fitted(self, x: float, top: float, text: str, width: float, size: float,
               min_size: float, max_lines: int, **kwargs: Any) -> float:
        lines, used = fit(text, width, size, min_size, max_lines, kwargs.get("bold", False))
        return self.lines(x, top, lines, used, **kwargs)


def qr_side(url: str, size: float) -> int:
    """The side of the QR code drawn in at most `size` pixels: whole pixels per module."""
    count = len(qr.modules(url))
    return max(int(size // count), 1) * count


def _qr(d: _Draw, url: str, x: float, y: float, size: float) -> float:
    """The QR code as one path of whole-pixel modules (crisp in the PNG, so a phone and
    zbarimg read it); returns the side actually drawn."""
    matrix = qr.modules(url)
    cell = max(int(size // len(matrix)), 1)
    side = cell * len(matrix)
    d.rect(x, y, side, side, PAPER)
    path = []
    for r, row in enumerate(matrix):
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            path.append(f"M{x + start * cell:g} {y + r * cell:g}h{(c - start) * cell}"
                        f"v{cell}h{-(c - start) * cell}z")
    d.parts.append(f'<path d="{"".join(path)}" fill="#000" shape-rendering="crispEdges"/>')
    return side


@dataclass(frozen=True)
class _Style:
    """Sizes of one format."""

    name: float           # the agency's name, largest
    number: float         # the index
    heading: float
    row: float            # element names
    row_height: float
    label_width: float    # element names' column
    qr: float


PORTRAIT = _Style(name=50, number=124, heading=24, row=20, row_height=32, label_width=290,
                  qr=200)
SQUARE = _Style(name=44, number=108, heading=22, row=16, row_height=32, label_width=196,
                qr=190)


def _header(d: _Draw, info: Infographic, width: float, margin: float, style: _Style) -> float:
    """The blue band with the survey's name, the agency's name and the period."""
    t = info.texts
    band = _Draw()
    y = band.fitted(margin, 36, t.survey.upper(), width - 2 * margin, 20, 14, 2, bold=True,
                    fill="#d6e6f8", cls="kicker")
    y = band.fitted(margin, y + 8, info.agency_name, width - 2 * margin, style.name, 24, 4,
                    bold=True, fill=PAPER, cls="agency")
    y = band.fitted(margin, y + 6, info.period_label, width - 2 * margin, 26, 18, 2,
                    fill=PAPER, cls="period")
    height = y + 28
    d.rect(0, 0, width, height, ACCENT)
    d.parts += band.parts
    return height


def _grade(d: _Draw, info: Infographic, x: float, y: float, w: float, radius: float,
           words: float) -> float:
    """The grade letter in a disc, with "Grade" and its words beside it."""
    t = info.texts
    colour = GRADE_COLOURS.get(info.grade or "", MUTED)
    cx, cy = x + radius, y + radius + 4
    d.parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{radius}" fill="{colour}"/>')
    letter = radius * 1.25
    d.text(cx, cy + letter * 0.36, info.grade or "–", letter, bold=True, fill=PAPER,
           anchor="middle", cls="grade")
    wx, ww = x + 2 * radius + 16, w - 2 * radius - 16
    wy = d.fitted(wx, y + 4, t.grade, ww, 18, 12, 2, fill=MUTED)
    if info.grade:
        wy = d.fitted(wx, wy + 2, info.grade_words, ww, words, 14, 2, bold=True, fill=colour,
                      cls="grade-words")
    else:
        wy = d.fitted(wx, wy + 2, info.grade_words, ww, 18, 11, 4, fill=DARK,
                      cls="grade-words")
    return max(wy, cy + radius)


def _respondents(d: _Draw, info: Infographic, x: float, y: float, w: float,
                 size: float) -> float:
    y = d.fitted(x, y, info.texts.respondents, w, 18, 12, 2, fill=MUTED)
    number = info.texts.number(info.n, 0)
    while text_width(number, size, True) > w and size > 16:
        size -= 2
    d.text(x, y + size * 0.8, number, size, bold=True, cls="respondents")
    return y + size * 0.95


def _index(d: _Draw, info: Infographic, x: float, y: float, w: float, style: _Style) -> float:
    """The index, large, with its interval and the scale."""
    t, num = info.texts, info.texts.number
    y = d.fitted(x, y, t.index, w, 22, 14, 2, bold=True, fill=MUTED)
    size = style.number
    value = num(info.ikm, 2)
    while text_width(value, size, True) > w and size > 40:
        size -= 4
    d.text(x, y + size * 0.78, value, size, bold=True, fill=ACCENT, cls="ikm")
    y += size * 0.86
    y = d.fitted(x, y + 4, f"{t.interval}: {num(info.ci[0], 2)} – {num(info.ci[1], 2)}",
                 w, 20, 13, 2, fill=DARK, cls="interval")
    return d.fitted(x, y + 2, t.scale, w, 17, 12, 2, fill=MUTED)


def _hero_portrait(d: _Draw, info: Infographic, x: float, y: float, w: float,
                   style: _Style) -> float:
    """Three columns: the index; the grade and the respondents; the QR code."""
    gap = 28
    qr_w = style.qr
    index_w = 404
    mid_x, mid_w = x + index_w + gap, w - index_w - qr_w - 2 * gap
    end = _index(d, info, x, y, index_w, style)
    mid = _grade(d, info, mid_x, y, mid_w, 48, 30)
    mid = _respondents(d, info, mid_x, mid + 20, mid_w, 44)
    side = qr_side(info.url, qr_w)
    qx = x + w - side + 8  # the quiet zone's white stands in the margin
    _qr(d, info.url, qx, y, side)
    caption = d.fitted(qx + 8, y + side + 2, info.texts.scan, side - 16, 16, 11, 3,
                       bold=True, cls="scan")
    return max(end, mid, caption) + 26


def _hero_square(d: _Draw, info: Infographic, x: float, y: float, w: float,
                 style: _Style) -> float:
    """The index, then the grade and the respondents side by side."""
    y = _index(d, info, x, y, w, style) + 16
    half = (w - 24) / 2
    end = _grade(d, info, x, y, half + 30, 40, 26)
    end = max(end, _respondents(d, info, x + half + 54, y + 4, half - 30, 38))
    return end + 24


def _elements(d: _Draw, info: Infographic, x: float, y: float, w: float, style: _Style,
              nrr: bool) -> float:
    """One row per element: its name, a bar on the 25-100 scale, NRR x 25 (and, where
    there is room, the NRR)."""
    t, num = info.texts, info.texts.number
    y = d.fitted(x, y, t.elements, w, style.heading, 15, 2, bold=True, cls="heading")
    y += 6
    value_w = text_width("100,00", style.row + 2, True) + 12
    nrr_w = text_width("NRR 0,00", style.row - 5) + 8 if nrr else 0
    bar_x = x + style.label_width + 14
    bar_w = w - style.label_width - 14 - value_w - nrr_w
    for row in info.elements:
        lines, size = fit(row.name, style.label_width, style.row, 11, 3)
        height = max(style.row_height, block_height(len(lines), size) + 6)
        mid = y + height / 2
        d.lines(x, mid - block_height(len(lines), size) / 2, lines, size, cls="element")
        d.rect(bar_x, mid - 8, bar_w, 16, SOFT, 4)
        share = min(max((row.index - 25) / 75, 0.0), 1.0)
        d.rect(bar_x, mid - 8, bar_w * share, 16, ACCENT, 4)
        d.text(bar_x + bar_w + value_w, mid + (style.row + 2) * 0.36, num(row.index, 2),
               style.row + 2, bold=True, anchor="end", cls="element-index")
        if nrr:
            d.text(x + w, mid + (style.row - 5) * 0.36, f"NRR {num(row.nrr, 2)}",
                   style.row - 5, fill=MUTED, anchor="end")
        y += height
    return y + 20


def _profile_cell(d: _Draw, info: Infographic, dim: str, x: float, y: float,
                  w: float) -> float:
    """One profile question: each answer given with its share, a bar behind it."""
    t, num = info.texts, info.texts.number
    y = d.fitted(x, y, t.fields.get(dim, dim), w, 17, 12, 2, bold=True)
    slices = [s for s in info.profile.get(dim, ()) if s.count]
    total = sum(s.count for s in slices)
    y += 4
    size = 14
    share_w = text_width("100%", size, True) + 6
    for s in slices:
        share = s.count / total
        lines, used = fit(s.label, w - share_w - 8, size, 10, 2)
        height = block_height(len(lines), used) + 5
        d.rect(x, y, w * share, height - 2, "#dbe8f6")
        d.lines(x + 4, y + 1.5, lines, used, cls="profile")
        d.text(x + w, y + 1.5 + size * 0.95, f"{num(100 * share, 0)}%", size, bold=True,
               anchor="end", cls="profile-share")
        y += height
    return y


def _profile(d: _Draw, info: Infographic, x: float, y: float, w: float, columns: int,
             style: _Style) -> float:
    """The respondents by sex, age, education and occupation: each answer's share."""
    y = d.fitted(x, y, info.texts.profile, w, style.heading, 15, 2, bold=True, cls="heading")
    y += 6
    gap = 28
    cell_w = (w - gap * (columns - 1)) / columns
    dims = list(info.profile)
    for start in range(0, len(dims), columns):
        bottom = y
        for k, dim in enumerate(dims[start:start + columns]):
            bottom = max(bottom, _profile_cell(d, info, dim, x + k * (cell_w + gap), y,
                                               cell_w))
        y = bottom + 14
    return y + 6


def _actions(d: _Draw, info: Infographic, x: float, y: float, w: float, room: float,
             style: _Style) -> float:
    """The follow-up plan: as many actions as the room takes (at least one), each with its
    element and status; the rest is on the public page, which the QR code opens."""
    t = info.texts
    bottom = y + room
    y = d.fitted(x, y, t.follow_ups, w, style.heading, 15, 2, bold=True, cls="heading")
    y += 6
    if not info.actions:
        return d.fitted(x, y, t.no_follow_ups, w, 17, 13, 3, fill=MUTED) + 12
    more_lines, more_size = fit(t.more_follow_ups, w, 16, 12, 2)
    more_h = block_height(len(more_lines), more_size) + 6
    size = 17
    for i, action in enumerate(info.actions):
        head, head_size = fit(f"{action.element} · {action.status_label}", w - 18, size, 12,
                              2, bold=True)
        body, _ = fit(action.text, w - 18, size, size, 2)
        height = block_height(len(head), head_size) + block_height(len(body), size) + 14
        left = len(info.actions) - i - 1
        if i and y + height + (more_h if left else 0) > bottom:
            return d.lines(x, y, more_lines, more_size, fill=ACCENT, cls="more") + 10
        d.parts.append(f'<circle cx="{x + 5}" cy="{y + head_size * 0.6:.1f}" r="5" '
                       f'fill="{ACCENT}"/>')
        y = d.lines(x + 18, y, head, head_size, bold=True, cls="action")
        y = d.lines(x + 18, y + 2, body, size, cls="action") + 12
    return y


def _scan(d: _Draw, info: Infographic, x: float, y: float, w: float, style: _Style) -> float:
    """The QR code of the public page, what it is for, its address and the regulation."""
    t = info.texts
    side = _qr(d, info.url, x - 8, y, style.qr)  # its white quiet zone lines up the text
    tx, tw = x - 8 + side + 16, w - side - 8
    ty = d.fitted(tx, y + 12, t.scan, tw, 20, 13, 3, bold=True, cls="scan")
    ty = _url(d, info.url, tx, ty + 6, tw, 17)
    ty = d.fitted(tx, ty + 8, t.basis, tw, 15, 11, 4, fill=MUTED)
    return max(y + side, ty)


def wrap_url(url: str, width: float, size: float) -> list[str]:
    """An address in lines, broken after a slash, a dot or a hyphen where it can be."""
    lines: list[str] = []
    line = ""
    for token in re.split(r"(?<=[/.-])(?=[^/])", url):
        if line and text_width(line + token, size) > width:
            lines.append(line)
            line = ""
        line += token
        while text_width(line, size) > width and len(line) > 1:
            cut = len(line) - 1
            while cut > 1 and text_width(line[:cut], size) > width:
                cut -= 1
            lines.append(line[:cut])
            line = line[cut:]
    return [*lines, line] if line else lines


def _url(d: _Draw, url: str, x: float, y: float, w: float, size: float) -> float:
    size_used = size
    lines = wrap_url(url, w, size)
    while len(lines) > 3 and size_used > 11:
        size_used -= 1
        lines = wrap_url(url, w, size_used)
    return d.lines(x, y, lines, size_used, fill=ACCENT, cls="url")


def _footer(d: _Draw, info: Infographic, x: float, y: float, w: float) -> float:
    """The public page's address and the regulation, under everything (portrait)."""
    y = _url(d, info.url, x, y, w, 18)
    return d.fitted(x, y + 4, info.texts.basis, w, 15, 11, 2, fill=MUTED)


def _scaled(parts: list[str], x: float, top: float, width: float, used: float,
            room: float) -> list[str]:
    """A column taller than its room, shrunk to fit (centred): nothing is cut off."""
    if used <= room or used <= 0:
        return parts
    s = room / used
    dx = x + width * (1 - s) / 2
    return [f'<g transform="translate({dx:.2f} {top:.2f}) scale({s:.4f}) '
            f'translate({-x:.2f} {-top:.2f})">', *parts, "</g>"]


def render_svg(info: Infographic, layout: str = "portrait") -> str:
    """The infographic as an SVG document of exactly 1080x1350 (portrait) or 1080x1080
    (square)."""
    if layout not in SIZES:
        raise ValueError(f"unknown layout {layout!r}; use portrait or square")
    width, height = SIZES[layout]
    margin = 56 if layout == "portrait" else 44
    style = PORTRAIT if layout == "portrait" else SQUARE
    d = _Draw()
    d.rect(0, 0, width, height, PAPER)
    top = _header(d, info, width, margin, style) + 28
    bottom = height - 36
    if layout == "portrait":
        inner = width - 2 * margin
        foot = _Draw()
        foot_top = bottom - _footer(foot, info, margin, 0, inner)
        body = _Draw()
        y = _hero_portrait(body, info, margin, top, inner, style)
        y = _elements(body, info, margin, y, inner, style, nrr=True)
        y = _profile(body, info, margin, y, inner, 4, style)
        y = _actions(body, info, margin, y, inner, foot_top - 20 - y, style)
        d.parts += _scaled(body.parts, margin, top, inner, y - top, foot_top - 16 - top)
        d.parts.append(f'<g transform="translate(0 {foot_top:.1f})">')
        d.parts += foot.parts
        d.parts.append("</g>")
    else:
        gap = 44
        column = (width - 2 * margin - gap) / 2
        left, right = _Draw(), _Draw()
        y = _hero_square(left, info, margin, top, column, style)
        y = _elements(left, info, margin, y, column, style, nrr=False)
        y = _actions(left, info, margin, y, column, bottom - y, style)
        d.parts += _scaled(left.parts, margin, top, column, y - top, bottom - top)
        rx = margin + column + gap
        foot = _Draw()
        scan_top = bottom - _scan(foot, info, rx, 0, column, style)
        y = _profile(right, info, rx, top, column, 2, style)
        d.parts += _scaled(right.parts, rx, top, column, y - top, scan_top - 16 - top)
        d.parts.append(f'<g transform="translate(0 {scan_top:.1f})">')
        d.parts += foot.parts
        d.parts.append("</g>")
    t = info.texts
    title = (f"{t.index} {t.number(info.ikm, 2)} · {info.grade_words} · {info.agency_name} · "
             f"{info.period_label}")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="title" '
            f'font-family="{FONT}" lang="{escape(t.locale)}">'
            f'<title id="title">{escape(title, quote=False)}</title>'
            + "".join(d.parts) + "</svg>")


def render_png(svg: str, layout: str = "portrait") -> bytes:
    """The SVG as a PNG of exactly the layout's size (cairosvg; fetches nothing)."""
    import cairosvg  # needs the system's libcairo2; only the PNG needs it

    width, height = SIZES[layout]
    png = cairosvg.svg2png(bytestring=svg.encode(), output_width=width,
                           output_height=height, unsafe=False)
    assert png is not None
    return png


PDF_PAGE = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<style>@page {{ size: A4; margin: 12mm }} body {{ margin: 0 }}
svg {{ display: block; width: 186mm; height: 232.5mm; margin: 8mm auto 0 }}</style>
</head><body>{svg}</body></html>"""


def _refuse(url: str, *args: Any, **kwargs: Any) -> dict:
    """WeasyPrint's URL fetcher: the page embeds everything, so nothing is fetched."""
    raise ValueError(f"the infographic does not load external resources ({url[:60]})")


def render_pdf(info: Infographic) -> bytes:
    """The portrait infographic on one A4 page (WeasyPrint, the report's pipeline)."""
    from weasyprint import HTML  # a second to import; only the PDF needs it

    html = PDF_PAGE.format(lang=escape(info.texts.locale),
                           title=escape(f"{info.agency_name} · {info.period_label}"),
                           svg=render_svg(info, "portrait"))
    pdf = HTML(string=html, url_fetcher=_refuse).write_pdf()
    assert pdf is not None
    return pdf
