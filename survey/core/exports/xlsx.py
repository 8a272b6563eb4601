"""The XLSX workbook for auditors: the regulation's worksheet with live formulas, the
per-desk recomputation that reproduces the engine, and the engine's own numbers.

Pure: it takes rows (exports.rows.export_rows, in the canonical column order) and a built
dashboard, and never reads the database. Rows are streamed to the file one by one
(XlsxWriter ``constant_memory``), so any number of responses fits in constant memory.

Sheets (0-based rows below are XlsxWriter's; formulas use A1 notation):

- ``Pengolahan data``: title, agency, period, standard and weights, then one row per
  respondent from row 7 (No, desk key, desk number, U1..Uj, response id; a blank answer is
  an empty cell), then the regulation's summary rows with formulas: SUM, COUNT (a blank
  leaves the denominator), NRR, weight, weighted NRR, IKM, IKM x 25, grade and label. This
  pooled computation equals the engine when the agency is pooled or has one desk.
- ``Per loket``: one row per desk with SUMIFS/COUNTIFS over the data sheet and the desk's
  NRR, IKM, IKM x 25 and grade as formulas, then the agency row combining the desks as the
  engine does (stratified: w_h = N_h/n_h; pooled: w_h = 1).
- ``Loket``, ``Unsur``, ``Layanan``, ``Profil responden``, ``Komentar``,
  ``Rencana tindak lanjut``: values from the engine and the dashboard.

Defined names point at the headline cells: ``IKM_instansi`` (agency IKM x 25 on
``Per loket``), ``Mutu_instansi``, ``IKM_pengolahan`` (the pooled worksheet's IKM x 25).

Every text cell is written with ``write_string`` after ``csvfile.neutralise``, so nothing a
respondent or an operator typed can become a formula.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell
from xlsxwriter.worksheet import Worksheet

from survey.core.exports.csvfile import neutralise
from survey.core.exports.report import (
    INTERVAL_METHOD_ID,
    METHOD_ID,
    PROFILE_TITLES_ID,
    choice_label_id,
    reason_id,
    status_id,
)
from survey.core.results.dashboard import Dashboard
from survey.ikm.engine import GRADE_MIN_N, STRATIFIED
from survey.ikm.standards import Standard, get_standard

DATA = "Pengolahan data"
DESKS = "Per loket"
TITLE = "Pengolahan data survei kepuasan masyarakat per responden dan per unsur pelayanan"
NO_GRADE = "sampel tidak cukup"
FIRST_DATA_ROW = 6  # 0-based: row 7 in the spreadsheet
DESK_COL = 2        # column C of the data sheet: the desk number the formulas match on
FIRST_ELEMENT_COL = 3


@dataclass
class _Tally:
    """Sums and counts per desk, kept while streaming: the formulas' cached results."""

    n: list[int]
    sums: list[list[int]]
    counts: list[list[int]]
    skipped_flagged: int = 0
    skipped_unknown: int = 0
    written: int = 0

    @classmethod
    def empty(cls, desks: int, elements: int) -> _Tally:
        return cls([0] * desks, [[0] * elements for _ in range(desks)],
                   [[0] * elements for _ in range(desks)])


@dataclass
class _Formats:
    book: Any
    cache: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        spec = {
            "title": {"bold": True, "font_size": 13},
            "bold": {"bold": True},
            "head": {"bold": True, "bg_color": "#DDE4EC", "border": 1, "text_wrap": True,
                     "valign": "top"},
            "int": {"num_format": "0"},
            "nrr": {"num_format": "0.000"},
            "weight": {"num_format": "0.0000"},
            "ikm": {"num_format": "0.00"},
            "ikm_bold": {"num_format": "0.00", "bold": True},
            "pct": {"num_format": "0.0%"},
            "wrap": {"text_wrap": True, "valign": "top"},
            "date": {"num_format": "yyyy-mm-dd"},
        }
        if name not in spec:
            raise AttributeError(name)
        if name not in self.cache:
            self.cache[name] = self.book.add_format(spec[name])
        return self.cache[name]


def _text(sheet: Worksheet, row: int, col: int, value: object, fmt: Any = None) -> None:
    sheet.write_string(row, col, neutralise(value), fmt)


def _number(sheet: Worksheet, row: int, col: int, value: float | int | None,
            fmt: Any = None) -> None:
    if value is None:
        _text(sheet, row, col, "-")
    else:
        sheet.write_number(row, col, value, fmt)


def _grade_formula(value: str, n: str, std: Standard) -> str:
    """The grade of a converted value by the standard's lower bounds, after rounding
    half-up to two decimals (first to nine, as the engine does against float noise);
    no grade below GRADE_MIN_N respondents."""
    rounded = f"ROUND(ROUND({value},9),2)"
    bands = list(std.bands)
    expr = f'"{bands[-1].grade}"'
    for band in reversed(bands[:-1]):
        expr = f'IF({rounded}>={band.lower},"{band.grade}",{expr})'
    return f'=IF(ISNUMBER({value}),IF({n}<{GRADE_MIN_N},"{NO_GRADE}",{expr}),"-")'


def _label_formula(grade: str, std: Standard) -> str:
    expr = '"-"'
    for band in reversed(std.bands):
        expr = f'IF({grade}="{band.grade}","{band.label_id}",{expr})'
    return "=" + expr


def _grade_cached(converted: float | None, n: int, std: Standard) -> tuple[str, str]:
    if converted is None:
        return "-", "-"
    if n < GRADE_MIN_N:
        return NO_GRADE, "-"
    band = std.grade(converted)
    return band.grade, band.label_id


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _ikm(nrrs: Sequence[float | None], weights: Sequence[float]) -> float | None:
    if any(v is None for v in nrrs):
        return None
    return sum(v * w for v, w in zip(nrrs, weights, strict=True))  # type: ignore[operator]


def _span(first_row: int, first_col: int, last_row: int, last_col: int,
          row_abs: bool = False, col_abs: bool = False) -> str:
    """``A1:B2``, always with both ends (xl_range shortens a single cell)."""
    return (f"{xl_rowcol_to_cell(first_row, first_col, row_abs, col_abs)}:"
            f"{xl_rowcol_to_cell(last_row, last_col, row_abs, col_abs)}")


@dataclass(frozen=True)
class _SheetContext:
    """What the two formula sheets share, known once the respondents are streamed: the
    book's formats, the standard, the weight mode (``exact`` | ``0.111`` | ``0.11``) and
    its weights, whether formulas store their results (``cached``), the data sheet's last
    respondent row (0-based) and the tally of sums and counts."""

    fmt: _Formats
    std: Standard
    mode: str
    weights: list[float]
    cached: bool
    data_last: int
    tally: _Tally

    @property
    def elements(self) -> int:
        return len(self.weights)

    def cache(self, value: Any, empty: Any = 0) -> Any:
        """The result stored beside a formula: ``value`` ("-" for None) when results are
        cached, otherwise ``empty``."""
        if not self.cached:
            return empty
        return value if value is not None else "-"

    def data_column(self, col: int, absolute_col: bool = False) -> str:
        """A column of the data sheet's respondent rows, from another sheet."""
        letter = xl_col_to_name(col)
        d = "$" if absolute_col else ""
        return (f"'{DATA}'!{d}{letter}${FIRST_DATA_ROW + 1}:"
                f"{d}{letter}${self.data_last + 1}")

    def weight_cell(self, sheet: Worksheet, row: int, col: int, j: int) -> None:
        """Element j's weight: 1/J as a live formula for exact weights; the printed
        0.111 / 0.11 as typed."""
        if self.mode == "exact":
            sheet.write_formula(row, col, f"=1/{self.elements}", self.fmt.weight,
                                self.weights[j])
        else:
            sheet.write_number(row, col, self.weights[j], self.fmt.weight)


@dataclass(frozen=True)
class _Results:
    """One row's results computed as its formulas compute them: the cached values."""

    nrr: list[float | None]
    ikm: float | None
    conv: float | None      # IKM x 25
    grade: str
    label: str

    @classmethod
    def of(cls, ctx: _SheetContext, n: int, sums: Sequence[float],
           counts: Sequence[float]) -> _Results:
        nrr = [_ratio(s, c) for s, c in zip(sums, counts, strict=True)]
        ikm = _ikm(nrr, ctx.weights)
        conv = ikm * 25 if ikm is not None else None
        grade, label = _grade_cached(conv, n, ctx.std)
        return cls(nrr, ikm, conv, grade, label)


def write_workbook(
    target: str | IO[bytes],
    header: list[str],
    rows: Iterable[tuple],
    board: Dashboard,
    populations: dict[str, int | None],
    weights: str = "exact",
    *,
    comments: Sequence[tuple[str, str]] = (),
    cached: bool = True,
) -> int:
    """Write the auditor's workbook to ``target`` (a path or a binary file object).

    ``header``/``rows``: the canonical export (exports.csvfile.columns / export_rows);
    rows currently flagged (``flagged`` = ``true``) and rows of desks outside
    ``board.scope`` are not part of the index and are skipped (a note says how many).
    ``populations``: desk key -> N for the period. ``weights``: ``exact`` | ``0.111`` |
    ``0.11`` for the formula sheets. ``comments``: published (desk name, comment) pairs.
    ``cached``: store the computed results beside the formulas for readers that do not
    recalculate (Excel and LibreOffice recalculate anyway). Returns the number of
    respondent rows written."""
    std = get_standard(board.scope.questionnaire.standard)
    codes = list(std.element_codes)
    weight_values = list(std.weights(weights))
    index = {name: i for i, name in enumerate(header)}
    missing = [c for c in ("agency", "desk", *codes) if c not in index]
    if missing:
        raise ValueError(f"the export header lacks {', '.join(missing)}")
    desks = list(board.scope.desks)
    stratified = board.result.method == STRATIFIED
    if stratified:
        _check_populations(board, populations)

    book = xlsxwriter.Workbook(target, {"constant_memory": True, "strings_to_formulas": False,
                                        "strings_to_numbers": False, "strings_to_urls": False})
    fmt = _Formats(book)
    data = book.add_worksheet(DATA)
    per_desk = book.add_worksheet(DESKS)

    # -- Pengolahan data: header and respondent rows (streamed) -------------------------
    _sheet_heading(data, board, fmt, TITLE, weights, std)
    _data_columns(data, fmt, codes)
    tally, row_no = _stream_respondents(data, rows, index, codes, desks)
    data_last = max(row_no - 1, FIRST_DATA_ROW)  # an empty range still names one row
    for h, desk in enumerate(desks):
        if stratified and tally.n[h] and populations.get(desk.key) is None:
            raise ValueError(f"the agency is stratified but desk {desk.key} has no "
                             "population")
    ctx = _SheetContext(fmt=fmt, std=std, mode=weights, weights=weight_values,
                        cached=cached, data_last=data_last, tally=tally)
    ikm_cell = _pooled_summary(data, row_no + 1, ctx)
    book.define_name("IKM_pengolahan", f"='{DATA}'!{_abs(ikm_cell)}")

    # -- Per loket -------------------------------------------------------------------------
    agency_cells = _desk_sheet(per_desk, board, desks, populations, stratified, ctx)
    book.define_name("IKM_instansi", f"='{DESKS}'!{_abs(agency_cells[0])}")
    book.define_name("Mutu_instansi", f"='{DESKS}'!{_abs(agency_cells[1])}")

    # -- Values from the engine ----------------------------------------------------------
    _loket_sheet(book.add_worksheet("Loket"), board, fmt)
    _unsur_sheet(book.add_worksheet("Unsur"), board, fmt)
    _layanan_sheet(book.add_worksheet("Layanan"), board, fmt)
    _profile_sheet(book.add_worksheet("Profil responden"), board, fmt)
    _comments_sheet(book.add_worksheet("Komentar"), comments, fmt)
    _follow_up_sheet(book.add_worksheet("Rencana tindak lanjut"), board, fmt)
    book.close()
    return tally.written


def _check_populations(board: Dashboard, populations: dict[str, int | None]) -> None:
    """A stratified agency weights each desk with respondents by N_h/n_h: every such desk
    needs its N here, or its formulas would silently weigh it 0."""
    surveyed = set(board.result.desks) | {
        k for k, reason in board.result.not_estimable.items()
        if k is not None and reason != "no respondents"}
    lacking = sorted(k for k in surveyed if populations.get(k) is None)
    if lacking:
        raise ValueError(f"the agency is stratified but desks {', '.join(lacking)} have no "
                         "population")


def _abs(cell: str) -> str:
    col = cell.rstrip("0123456789")
    return f"${col}${cell[len(col):]}"


def _sheet_heading(sheet: Worksheet, board: Dashboard, fmt: _Formats, title: str,
                   weights: str, std: Standard) -> None:
    period = board.period
    _text(sheet, 0, 0, title, fmt.title)
    _text(sheet, 1, 0, "Instansi", fmt.bold)
    _text(sheet, 1, 3, f"{board.agency.name} ({board.agency.code})")
    _text(sheet, 2, 0, "Periode", fmt.bold)
    _text(sheet, 2, 3, f"{period.label('id')} ({period.start.isoformat()} s.d. "
                       f"{period.end.isoformat()})")
    _text(sheet, 3, 0, "Standar", fmt.bold)
    _text(sheet, 3, 3, f"{std.title_id}; bobot unsur: {_weight_text(weights, std)}")


def _weight_text(weights: str, std: Standard) -> str:
    j = len(std.elements)
    return f"1/{j} (tepat)" if weights == "exact" else f"{weights} per unsur (dibulatkan)"


# -- Pengolahan data ----------------------------------------------------------------------


def _data_columns(sheet: Worksheet, fmt: _Formats, codes: list[str]) -> None:
    """The data sheet's column widths and the header row above the respondents."""
    last_col = FIRST_ELEMENT_COL + len(codes)
    sheet.set_column(0, 0, 7)
    sheet.set_column(1, 1, 14)
    sheet.set_column(2, 2, 9)
    sheet.set_column(FIRST_ELEMENT_COL, last_col - 1, 8)
    sheet.set_column(last_col, last_col, 12)
    for col, text in enumerate(["No", "Loket", "No. loket", *codes, "ID respons"]):
        _text(sheet, FIRST_DATA_ROW - 1, col, text, fmt.head)
    sheet.freeze_panes(FIRST_DATA_ROW, FIRST_ELEMENT_COL)


def _stream_respondents(sheet: Worksheet, rows: Iterable[tuple], index: dict[str, int],
                        codes: list[str], desks: list) -> tuple[_Tally, int]:
    """One data row per counted respondent, tallied per desk as it is written; returns
    the tally and the row after the last respondent."""
    number_of = {(d.agency_code, d.code): i for i, d in enumerate(desks)}
    id_col = FIRST_ELEMENT_COL + len(codes)
    tally = _Tally.empty(len(desks), len(codes))
    i_agency, i_desk = index["agency"], index["desk"]
    i_flagged = index.get("flagged")
    i_id = index.get("response_id")
    score_at = [index[c] for c in codes]
    row_no = FIRST_DATA_ROW
    for raw in rows:
        if i_flagged is not None and str(raw[i_flagged]).lower() == "true":
            tally.skipped_flagged += 1
            continue
        h = number_of.get((raw[i_agency], raw[i_desk]))
        if h is None:
            tally.skipped_unknown += 1
            continue
        tally.written += 1
        tally.n[h] += 1
        sheet.write_number(row_no, 0, tally.written)
        _text(sheet, row_no, 1, desks[h].key)
        sheet.write_number(row_no, DESK_COL, h + 1)
        for j, at in enumerate(score_at):
            score = raw[at]
            if score is None or score == "":
                continue  # a blank answer: an empty cell, outside COUNT
            value = int(score)
            tally.sums[h][j] += value
            tally.counts[h][j] += 1
            sheet.write_number(row_no, FIRST_ELEMENT_COL + j, value)
        if i_id is not None and raw[i_id] not in (None, ""):
            sheet.write_number(row_no, id_col, int(raw[i_id]))
        row_no += 1
    return tally, row_no


def _pooled_summary(sheet: Worksheet, row: int, ctx: _SheetContext) -> str:
    """The regulation's summary rows under the respondents; returns the IKM x 25 cell."""
    fmt, tally, J = ctx.fmt, ctx.tally, ctx.elements
    first = FIRST_DATA_ROW
    cols = [FIRST_ELEMENT_COL + j for j in range(J)]
    sums = [sum(s[j] for s in tally.sums) for j in range(J)]
    counts = [sum(c[j] for c in tally.counts) for j in range(J)]
    n = tally.written
    res = _Results.of(ctx, n, sums, counts)

    def col_range(col: int) -> str:
        return _span(first, col, ctx.data_last, col)

    r_n, r_sum, r_cnt, r_nrr, r_w, r_wn, r_ikm, r_conv, r_grade, r_label = range(row, row + 10)
    labels = {
        r_n: "Jumlah responden",
        r_sum: "Jumlah nilai per unsur",
        r_cnt: "Jumlah responden yang menjawab",
        r_nrr: "NRR per unsur",
        r_w: "Bobot unsur",
        r_wn: "NRR tertimbang per unsur",
        r_ikm: "IKM",
        r_conv: "IKM unit pelayanan (IKM x 25)",
        r_grade: "Mutu pelayanan",
        r_label: "Kinerja unit pelayanan",
    }
    c0 = FIRST_ELEMENT_COL
    n_cell = xl_rowcol_to_cell(r_n, c0)
    for r in range(row, row + 10):
        _text(sheet, r, 0, labels[r], fmt.bold)
        if r == r_n:
            sheet.write_formula(r, c0, f"=COUNT({col_range(0)})", fmt.int, ctx.cache(n))
        elif r == r_ikm:
            wn = _span(r_wn, cols[0], r_wn, cols[-1])
            sheet.write_formula(r, c0, f"=SUM({wn})", fmt.nrr, ctx.cache(res.ikm))
        elif r == r_conv:
            sheet.write_formula(r, c0, f"={xl_rowcol_to_cell(r_ikm, c0)}*25", fmt.ikm_bold,
                                ctx.cache(res.conv))
        elif r == r_grade:
            sheet.write_formula(r, c0, _grade_formula(xl_rowcol_to_cell(r_conv, c0), n_cell,
                                                      ctx.std), fmt.bold,
                                ctx.cache(res.grade, ""))
        elif r == r_label:
            sheet.write_formula(r, c0, _label_formula(xl_rowcol_to_cell(r_grade, c0),
                                                      ctx.std), None, ctx.cache(res.label, ""))
        else:
            for j, col in enumerate(cols):
                cell = {k: xl_rowcol_to_cell(k, col) for k in (r_sum, r_cnt, r_nrr, r_w)}
                if r == r_sum:
                    sheet.write_formula(r, col, f"=SUM({col_range(col)})", fmt.int,
                                        ctx.cache(sums[j]))
                elif r == r_cnt:
                    sheet.write_formula(r, col, f"=COUNT({col_range(col)})", fmt.int,
                                        ctx.cache(counts[j]))
                elif r == r_nrr:
                    sheet.write_formula(r, col, f"={cell[r_sum]}/{cell[r_cnt]}", fmt.nrr,
                                        ctx.cache(res.nrr[j]))
                elif r == r_w:
                    ctx.weight_cell(sheet, r, col, j)
                else:
                    nrr = res.nrr[j]
                    wn_value = nrr * ctx.weights[j] if nrr is not None else None
                    sheet.write_formula(r, col, f"={cell[r_nrr]}*{cell[r_w]}", fmt.nrr,
                                        ctx.cache(wn_value))
    _pooled_notes(sheet, r_label + 2, ctx)
    return xl_rowcol_to_cell(r_conv, c0)


def _pooled_notes(sheet: Worksheet, row: int, ctx: _SheetContext) -> None:
    std, tally = ctx.std, ctx.tally
    _text(sheet, row, 0, "Catatan:", ctx.fmt.bold)
    notes = [
        "Jawaban kosong dibiarkan sebagai sel kosong: COUNT tidak menghitungnya, sehingga "
        "responden itu keluar dari penyebut unsur tersebut (bukan bernilai 0).",
        "Mutu: IKM x 25 dibulatkan setengah ke atas ke dua desimal, lalu "
        + ", ".join(f"{b.grade} >= {b.lower}" for b in std.bands[:-1])
        + f", selain itu {std.bands[-1].grade}. Kurang dari {GRADE_MIN_N} responden: "
        f"tanpa mutu ({NO_GRADE}).",
        "Lembar ini menggabungkan semua responden (pooled), seperti lembar kerja peraturan. "
        "Indeks instansi yang dipublikasikan ada di lembar 'Per loket' (baris instansi).",
    ]
    if tally.skipped_flagged:
        notes.append(f"{tally.skipped_flagged} jawaban yang sedang ditandai (flagged) tidak "
                     "dihitung dan tidak dicantumkan di sini.")
    if tally.skipped_unknown:
        notes.append(f"{tally.skipped_unknown} baris dari loket di luar cakupan instansi "
                     "ini dilewati.")
    for k, text in enumerate(notes):
        _text(sheet, row + 1 + k, 0, text)


# -- Per loket ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _DeskLayout:
    """Where the ``Per loket`` sheet puts things (0-based). Columns: No, key, name, N, n,
    w, then the J element sums, the J answered counts and the J NRRs, then IKM,
    IKM x 25, grade and label. Rows: the element weights (above the NRR columns), the
    header, one row per desk, then the agency row."""

    sums: int           # first of the J element sums
    counts: int         # first of the J answered counts
    nrr: int            # first of the J NRRs
    ikm: int
    conv: int
    grade: int
    label: int
    first: int          # the first desk's row
    last: int           # the last desk's row
    agency: int         # the agency row, right under the desks
    no: int = 0
    key: int = 1
    name: int = 2
    pop: int = 3
    n: int = 4
    w: int = 5
    weight_row: int = 6
    head_row: int = 7

    @classmethod
    def of(cls, elements: int, desks: int) -> _DeskLayout:
        sums = 6
        counts = sums + elements
        nrr = counts + elements
        ikm = nrr + elements
        first = cls.head_row + 1
        last = first + desks - 1
        return cls(sums=sums, counts=counts, nrr=nrr, ikm=ikm, conv=ikm + 1,
                   grade=ikm + 2, label=ikm + 3, first=first, last=last, agency=last + 1)


def _desk_sheet(sheet: Worksheet, board: Dashboard, desks: list,
                populations: dict[str, int | None], stratified: bool,
                ctx: _SheetContext) -> tuple[str, str]:
    """Per-desk formulas over the data sheet and the agency row; returns the agency's
    IKM x 25 and grade cells."""
    _sheet_heading(sheet, board, ctx.fmt, "IKM per loket dan gabungan instansi", ctx.mode,
                   ctx.std)
    method = METHOD_ID[STRATIFIED if stratified else "pooled"]
    _text(sheet, 4, 0, "Metode gabungan", ctx.fmt.bold)
    _text(sheet, 4, 3, method)
    lay = _DeskLayout.of(ctx.elements, len(desks))
    _desk_columns(sheet, ctx, lay)
    pops = [populations.get(d.key) for d in desks]
    desk_weights = [_desk_row(sheet, ctx, lay, h, desk, pops[h], stratified)
                    for h, desk in enumerate(desks)]
    _agency_row(sheet, ctx, lay, board.agency.code, pops, desk_weights, stratified)
    if desks:
        _desk_notes(sheet, lay.agency + 2, method, stratified)
    return xl_rowcol_to_cell(lay.agency, lay.conv), xl_rowcol_to_cell(lay.agency, lay.grade)


def _desk_columns(sheet: Worksheet, ctx: _SheetContext, lay: _DeskLayout) -> None:
    """The element weights row, the header row and the column widths."""
    fmt, codes = ctx.fmt, ctx.std.element_codes
    _text(sheet, lay.weight_row, lay.name, "Bobot unsur", fmt.bold)
    for j in range(ctx.elements):
        ctx.weight_cell(sheet, lay.weight_row, lay.nrr + j, j)
    heads = ["No. loket", "Kode", "Nama loket", "Populasi (N)", "Responden (n)",
             "Bobot desain (w)",
             *(f"Jumlah nilai {c}" for c in codes),
             *(f"Menjawab {c}" for c in codes),
             *(f"NRR {c}" for c in codes),
             "IKM", "IKM x 25", "Mutu pelayanan", "Kinerja unit pelayanan"]
    for col, text in enumerate(heads):
        _text(sheet, lay.head_row, col, text, fmt.head)
    sheet.set_row(lay.head_row, 45)
    sheet.set_column(lay.no, lay.no, 8)
    sheet.set_column(lay.key, lay.key, 12)
    sheet.set_column(lay.name, lay.name, 28)
    sheet.set_column(lay.pop, lay.label, 11)
    sheet.freeze_panes(lay.first, lay.pop)


def _desk_row(sheet: Worksheet, ctx: _SheetContext, lay: _DeskLayout, h: int, desk: Any,
              pop: int | None, stratified: bool) -> float:
    """Desk h's row: its n, sums and answered counts counted on the data sheet by its
    number (COUNTIF/SUMIFS/COUNTIFS), then its results; returns its design weight w_h
    (N_h/n_h stratified, 1 pooled)."""
    fmt, tally = ctx.fmt, ctx.tally
    r = lay.first + h
    key_cell = xl_rowcol_to_cell(r, lay.no, False, True)
    desk_col = ctx.data_column(DESK_COL, True)
    n = tally.n[h]
    sheet.write_number(r, lay.no, h + 1)
    _text(sheet, r, lay.key, desk.key)
    _text(sheet, r, lay.name, desk.name)
    _number(sheet, r, lay.pop, pop, fmt.int)
    sheet.write_formula(r, lay.n, f"=COUNTIF({desk_col},{key_cell})", fmt.int, ctx.cache(n))
    if stratified:
        w = pop / n if n and pop is not None else 0.0
        n_cell, pop_cell = xl_rowcol_to_cell(r, lay.n), xl_rowcol_to_cell(r, lay.pop)
        sheet.write_formula(r, lay.w, f"=IF({n_cell}=0,0,{pop_cell}/{n_cell})", fmt.nrr,
                            ctx.cache(w))
    else:
        w = 1.0
        sheet.write_number(r, lay.w, 1, fmt.int)
    for j in range(ctx.elements):
        scores = ctx.data_column(FIRST_ELEMENT_COL + j)
        sheet.write_formula(r, lay.sums + j, f"=SUMIFS({scores},{desk_col},{key_cell})",
                            fmt.int, ctx.cache(tally.sums[h][j]))
        sheet.write_formula(r, lay.counts + j,
                            f'=COUNTIFS({desk_col},{key_cell},{scores},"<>")',
                            fmt.int, ctx.cache(tally.counts[h][j]))
    _results_formulas(sheet, ctx, lay, r, n, tally.sums[h], tally.counts[h])
    return w


def _agency_row(sheet: Worksheet, ctx: _SheetContext, lay: _DeskLayout, agency_code: str,
                pops: list[int | None], desk_weights: list[float], stratified: bool) -> None:
    """The desks combined with their design weights w_h: each element's sum and answered
    count is SUMPRODUCT(w, desk column), then the results as for a desk. Without desks,
    the results are "-"."""
    fmt, tally = ctx.fmt, ctx.tally
    r = lay.agency
    _text(sheet, r, lay.key, agency_code, fmt.bold)
    _text(sheet, r, lay.name,
          f"Instansi (gabungan, {'stratified' if stratified else 'pooled'})", fmt.bold)
    if not pops:  # no desks
        for col in (lay.ikm, lay.conv, lay.grade):
            _text(sheet, r, col, "-")
        return

    def column(col: int) -> str:
        return _span(lay.first, col, lay.last, col, True, False)

    w_range = _span(lay.first, lay.w, lay.last, lay.w, True, True)
    if all(p is not None for p in pops):
        sheet.write_formula(r, lay.pop, f"=SUM({column(lay.pop)})", fmt.int,
                            ctx.cache(sum(pops)))  # type: ignore[arg-type]
    else:
        _text(sheet, r, lay.pop, "-")
    n_total = sum(tally.n)
    sheet.write_formula(r, lay.n, f"=SUM({column(lay.n)})", fmt.int, ctx.cache(n_total))
    _text(sheet, r, lay.w, "N/n" if stratified else "1")
    agg_sums, agg_counts = [], []
    for j in range(ctx.elements):
        s = sum(w * tally.sums[h][j] for h, w in enumerate(desk_weights))
        c = sum(w * tally.counts[h][j] for h, w in enumerate(desk_weights))
        agg_sums.append(s)
        agg_counts.append(c)
        sheet.write_formula(r, lay.sums + j,
                            f"=SUMPRODUCT({w_range},{column(lay.sums + j)})", fmt.nrr,
                            ctx.cache(s))
        sheet.write_formula(r, lay.counts + j,
                            f"=SUMPRODUCT({w_range},{column(lay.counts + j)})", fmt.nrr,
                            ctx.cache(c))
    _results_formulas(sheet, ctx, lay, r, n_total, agg_sums, agg_counts)


def _results_formulas(sheet: Worksheet, ctx: _SheetContext, lay: _DeskLayout, r: int,
                      n: int, sums: Sequence[float], counts: Sequence[float]) -> None:
    """Row r's NRR per element ("-" where nobody answered), IKM (SUMPRODUCT with the
    weights row; "-" when an element has no answer), IKM x 25, grade and label."""
    fmt, std, J = ctx.fmt, ctx.std, ctx.elements
    res = _Results.of(ctx, n, sums, counts)
    for j in range(J):
        s_cell = xl_rowcol_to_cell(r, lay.sums + j)
        c_cell = xl_rowcol_to_cell(r, lay.counts + j)
        sheet.write_formula(r, lay.nrr + j, f'=IF({c_cell}=0,"-",{s_cell}/{c_cell})',
                            fmt.nrr, ctx.cache(res.nrr[j]))
    counts_range = _span(r, lay.counts, r, lay.counts + J - 1)
    nrr_range = _span(r, lay.nrr, r, lay.nrr + J - 1)
    weight_row = _span(lay.weight_row, lay.nrr, lay.weight_row, lay.nrr + J - 1, True, True)
    ikm_cell = xl_rowcol_to_cell(r, lay.ikm)
    conv_cell = xl_rowcol_to_cell(r, lay.conv)
    grade_cell = xl_rowcol_to_cell(r, lay.grade)
    sheet.write_formula(
        r, lay.ikm, f'=IF(COUNTIF({counts_range},0)>0,"-",'
                    f"SUMPRODUCT({nrr_range},{weight_row}))", fmt.nrr, ctx.cache(res.ikm))
    sheet.write_formula(r, lay.conv, f'=IF(ISNUMBER({ikm_cell}),{ikm_cell}*25,"-")',
                        fmt.ikm_bold, ctx.cache(res.conv))
    sheet.write_formula(r, lay.grade, _grade_formula(conv_cell, xl_rowcol_to_cell(r, lay.n),
                                                     std), fmt.bold, ctx.cache(res.grade, ""))
    sheet.write_formula(r, lay.label, _label_formula(grade_cell, std), None,
                        ctx.cache(res.label, ""))


def _desk_notes(sheet: Worksheet, row: int, method: str, stratified: bool) -> None:
    notes = [
        "Setiap loket: jumlah nilai (SUMIFS) dan jumlah yang menjawab (COUNTIFS, sel kosong "
        "tidak dihitung) dari lembar 'Pengolahan data'; NRR = jumlah / menjawab.",
        "Baris instansi: NRR_j = SUMPRODUCT(w, jumlah_j) / SUMPRODUCT(w, menjawab_j); "
        + ("w = N/n (bobot desain, stratified)." if stratified
           else "w = 1 (responden digabung, pooled)."),
        f"Metode: {method}",
    ]
    for k, text in enumerate(notes):
        _text(sheet, row + k, 0, text)


# -- Values from the engine -----------------------------------------------------------------


def _table(sheet: Worksheet, heads: Sequence[str], fmt: _Formats, widths: Sequence[int],
           title: str, row: int = 2) -> int:
    _text(sheet, 0, 0, title, fmt.title)
    for col, (text, width) in enumerate(zip(heads, widths, strict=True)):
        _text(sheet, row, col, text, fmt.head)
        sheet.set_column(col, col, width)
    sheet.freeze_panes(row + 1, 0)
    return row + 1


def _loket_sheet(sheet: Worksheet, board: Dashboard, fmt: _Formats) -> None:
    heads = ["Kode", "Nama", "n", "N", "n/N", "IKM x 25", "Interval bawah", "Interval atas",
             "Mutu pelayanan", "Kinerja unit pelayanan", "Kebutuhan sampel (Krejcie-Morgan)",
             "Sampel cukup", "Keterangan"]
    r = _table(sheet, heads, fmt, [14, 28, 8, 9, 8, 10, 10, 10, 10, 16, 14, 10, 40],
               "IKM per loket (hasil mesin penghitung, interval 95%)")
    est = board.estimate
    method = METHOD_ID[board.result.method]
    rows = [(board.agency.code, f"{board.agency.name} (instansi)", est,
             method if est else reason_id(board.result.not_estimable.get(None, "")))]
    rows += [(d.key, d.name, d.estimate, reason_id(d.reason) if d.reason else "")
             for d in board.desks]
    for key, name, e, note in rows:
        _text(sheet, r, 0, key)
        _text(sheet, r, 1, name)
        if e is not None:
            sheet.write_number(r, 2, e.n, fmt.int)
            _number(sheet, r, 3, e.population, fmt.int)
            _number(sheet, r, 4, e.response_fraction, fmt.pct)
            sheet.write_number(r, 5, e.ikm_converted, fmt.ikm)
            sheet.write_number(r, 6, e.ci[0], fmt.ikm)
            sheet.write_number(r, 7, e.ci[1], fmt.ikm)
            _text(sheet, r, 8, e.grade or NO_GRADE)
            _text(sheet, r, 9, e.grade_label or "-")
            _number(sheet, r, 10, e.required_sample, fmt.int)
            _text(sheet, r, 11, "-" if e.sample_adequate is None
                  else ("ya" if e.sample_adequate else "belum cukup"))
        _text(sheet, r, 12, note)
        r += 1
    _text(sheet, r + 1, 0, "Interval hanya mencakup galat pengambilan sampel; responden QR "
                           "memilih sendiri untuk mengisi (n/N menunjukkan cakupannya).")
    _text(sheet, r + 2, 0, INTERVAL_METHOD_ID)


def _unsur_sheet(sheet: Worksheet, board: Dashboard, fmt: _Formats) -> None:
    heads = ["Kode", "Unsur", "n", "NRR", "NRR x 25", "Interval bawah", "Interval atas",
             "Terlemah"]
    r = _table(sheet, heads, fmt, [8, 40, 8, 9, 10, 10, 10, 10],
               "NRR per unsur pelayanan (instansi, hasil mesin penghitung)")
    names = {e.code: e.name_id for e in board.scope.questionnaire.elements}
    weak = [e.code for e in board.weakest]
    if board.estimate is None:
        _text(sheet, r, 0, "Belum ada responden pada periode ini.")
        return
    for e in board.estimate.elements:
        _text(sheet, r, 0, e.code)
        _text(sheet, r, 1, names.get(e.code, ""))
        sheet.write_number(r, 2, e.n, fmt.int)
        sheet.write_number(r, 3, e.nrr, fmt.nrr)
        sheet.write_number(r, 4, e.nrr_converted, fmt.ikm)
        sheet.write_number(r, 5, e.ci[0], fmt.ikm)
        sheet.write_number(r, 6, e.ci[1], fmt.ikm)
        if e.code in weak:
            sheet.write_number(r, 7, weak.index(e.code) + 1, fmt.int)
        r += 1


def _layanan_sheet(sheet: Worksheet, board: Dashboard, fmt: _Formats) -> None:
    heads = ["Kode", "Jenis layanan", "n", "IKM x 25", "Interval bawah", "Interval atas",
             "Mutu pelayanan"]
    r = _table(sheet, heads, fmt, [12, 36, 8, 10, 10, 10, 12],
               "IKM per jenis layanan (loket sebagai strata, digabung)")
    for s in board.services:
        _text(sheet, r, 0, s.code)
        _text(sheet, r, 1, s.name)
        if s.estimate is not None:
            sheet.write_number(r, 2, s.estimate.n, fmt.int)
            sheet.write_number(r, 3, s.estimate.ikm_converted, fmt.ikm)
            sheet.write_number(r, 4, s.estimate.ci[0], fmt.ikm)
            sheet.write_number(r, 5, s.estimate.ci[1], fmt.ikm)
            _text(sheet, r, 6, s.estimate.grade or NO_GRADE)
        r += 1


def _profile_sheet(sheet: Worksheet, board: Dashboard, fmt: _Formats) -> None:
    r = _table(sheet, ["Aspek", "Kategori", "Jumlah", "Persentase"], fmt, [16, 32, 10, 12],
               "Profil responden")
    for dimension, counts in board.profile.items():
        total = sum(n for _v, n in counts)
        for value, n in counts:
            _text(sheet, r, 0, PROFILE_TITLES_ID.get(dimension, dimension))
            _text(sheet, r, 1, choice_label_id(dimension, value))
            sheet.write_number(r, 2, n, fmt.int)
            _number(sheet, r, 3, n / total if total else None, fmt.pct)
            r += 1


def _comments_sheet(sheet: Worksheet, comments: Sequence[tuple[str, str]],
                    fmt: _Formats) -> None:
    r = _table(sheet, ["No", "Loket", "Saran / komentar"], fmt, [6, 24, 90],
               "Saran dan komentar masyarakat yang dipublikasikan")
    for k, (desk, comment) in enumerate(comments, start=1):
        sheet.write_number(r, 0, k)
        _text(sheet, r, 1, desk)
        _text(sheet, r, 2, comment, fmt.wrap)
        r += 1


def _follow_up_sheet(sheet: Worksheet, board: Dashboard, fmt: _Formats) -> None:
    heads = ["No", "Unsur", "Nama unsur", "Program / kegiatan", "Penanggung jawab", "Waktu",
             "Status", "Bukti"]
    r = _table(sheet, heads, fmt, [6, 8, 30, 50, 24, 12, 16, 40],
               f"Rencana tindak lanjut ({board.period.label('id')})")
    names = {e.code: e.name_id for e in board.scope.questionnaire.elements}
    for k, f in enumerate(board.follow_ups, start=1):
        sheet.write_number(r, 0, k)
        _text(sheet, r, 1, f.element_code)
        _text(sheet, r, 2, names.get(f.element_code, ""))
        _text(sheet, r, 3, f.action, fmt.wrap)
        _text(sheet, r, 4, f.owner)
        _text(sheet, r, 5, f.due_date.isoformat() if f.due_date else "-")
        _text(sheet, r, 6, status_id(f.status))
        _text(sheet, r, 7, f.evidence or "", fmt.wrap)
        r += 1
