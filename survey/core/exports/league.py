"""The league of an MPP's agencies as CSV and XLSX: the page's table with the same
numbers, unrounded, and headers in Indonesian or English (pure: no Flask, no database).

Each row is a `results.league.LeagueRow`; an empty cell means the value does not exist
(no estimate, no service volume, nothing a year earlier). Rates are proportions (0.0943,
not 9.43%). Agency names are typed by people, so they are neutralised as every text cell
of the exports is (`csvfile.neutralise`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import IO

import xlsxwriter

from survey.core.exports.csvfile import neutralise, stream
from survey.core.results.league import ELEMENT_UNANSWERED, League, LeagueRow

# key, Indonesian header, English header
COLUMNS = (
    ("rank_best", "Peringkat terbaik", "Best rank"),
    ("rank_worst", "Peringkat terburuk", "Worst rank"),
    ("code", "Kode instansi", "Agency code"),
    ("name", "Nama instansi", "Agency name"),
    ("ikm", "IKM", "IKM"),
    ("ci_low", "Interval 95% bawah", "95% interval, low"),
    ("ci_high", "Interval 95% atas", "95% interval, high"),
    ("grade", "Mutu pelayanan", "Grade"),
    ("confident", "Mutu pasti (peluang >= 95%)", "Grade confident (probability >= 95%)"),
    ("n", "Responden (n)", "Respondents (n)"),
    ("population", "Warga dilayani (N)", "Citizens served (N)"),
    ("rate_volume", "Responden per warga dilayani (n/N)", "Respondents per citizen served "
                                                          "(n/N)"),
    ("target", "Target sampel Krejcie-Morgan", "Krejcie-Morgan sample target"),
    ("rate_target", "Capaian target sampel (n/target)", "Share of the sample target "
                                                        "(n/target)"),
    ("earlier_period", "Periode setahun sebelumnya", "Period a year earlier"),
    ("earlier_ikm", "IKM setahun sebelumnya", "IKM a year earlier"),
    ("change", "Perubahan (poin)", "Change (points)"),
    ("change_low", "Perubahan, interval 95% bawah", "Change, 95% interval low"),
    ("change_high", "Perubahan, interval 95% atas", "Change, 95% interval high"),
    ("change_p", "Perubahan, nilai p", "Change, p-value"),
    ("change_significant", "Perubahan bermakna", "Change significant"),
    ("versus", "Dibanding instansi lain", "Versus the other agencies"),
    ("versus_p", "Nilai p terkoreksi (FDR)", "Adjusted p-value (FDR)"),
    ("note", "Keterangan", "Note"),
)
WORDS = {
    "id": {"yes": "ya", "no": "tidak", "above": "lebih tinggi", "below": "lebih rendah",
           "same": "tidak dapat dibedakan", "no_responses": "belum ada responden",
           "element_unanswered": "ada unsur yang tidak dijawab siapa pun",
           "title": "Liga instansi", "sheet": "Liga"},
    "en": {"yes": "yes", "no": "no", "above": "higher", "below": "lower",
           "same": "not distinguishable", "no_responses": "no responses yet",
           "element_unanswered": "an element nobody answered", "title": "League of agencies",
           "sheet": "League"},
}
NOTES = {
    "id": ("Rentang peringkat: peringkat terbaik = 1 + jumlah instansi yang batas bawah "
           "intervalnya di atas batas atas interval instansi ini; peringkat terburuk = jumlah "
           "instansi yang batas atas intervalnya mencapai batas bawah interval instansi ini "
           "(termasuk dirinya).",
           "Dibanding instansi lain: IKM instansi dibandingkan dengan gabungan instansi lain "
           "di MPP; nilai p dikoreksi bersama dengan Benjamini-Hochberg (tingkat penemuan "
           "palsu 5%).",
           "Perubahan: dibanding periode yang sama setahun sebelumnya (uji Welch, 95%)."),
    "en": ("Rank band: best rank = 1 + the number of agencies whose interval's lower bound is "
           "above this agency's upper bound; worst rank = the number of agencies whose upper "
           "bound reaches this agency's lower bound (itself included).",
           "Versus the other agencies: the agency's IKM against the MPP's other agencies "
           "together; p-values adjusted together by Benjamini-Hochberg (5% false discovery "
           "rate).",
           "Change: against the same period a year earlier (Welch test, 95%)."),
}


def _lang(locale: str) -> str:
    return "en" if locale == "en" else "id"


def header(locale: str) -> list[str]:
    col = 2 if _lang(locale) == "en" else 1
    return [c[col] for c in COLUMNS]


def values(row: LeagueRow, league: League, locale: str) -> list[object]:
    """One row's cells in COLUMNS order: numbers as numbers, None for an empty cell."""
    words = WORDS[_lang(locale)]
    e, change, screen = row.estimate, row.change, row.screen
    versus = None
    if screen is not None:
        versus = words[screen.direction] if screen.flagged and screen.direction else (
            words["same"])
    note = None
    if row.reason is not None:
        note = words["element_unanswered" if row.reason == ELEMENT_UNANSWERED
                     else "no_responses"]
    cells = {
        "rank_best": row.band[0] if row.band else None,
        "rank_worst": row.band[1] if row.band else None,
        "code": row.code,
        "name": row.name,
        "ikm": e.ikm_converted if e else None,
        "ci_low": e.ci[0] if e else None,
        "ci_high": e.ci[1] if e else None,
        "grade": e.grade if e else None,
        "confident": (words["yes"] if row.confident else words["no"]) if e else None,
        "n": row.n,
        "population": row.population,
        "rate_volume": row.rate_volume,
        "target": row.target,
        "rate_target": row.rate_target,
        "earlier_period": league.earlier_period.key if league.earlier_period else None,
        "earlier_ikm": row.earlier.ikm_converted if row.earlier else None,
        "change": change.diff if change else None,
        "change_low": change.ci[0] if change and change.ci else None,
        "change_high": change.ci[1] if change and change.ci else None,
        "change_p": change.p_value if change else None,
        "change_significant": (words["yes"] if row.change_significant else words["no"])
        if change else None,
        "versus": versus,
        "versus_p": screen.p_adjusted if screen else None,
        "note": note,
    }
    return [cells[key] for key, _id, _en in COLUMNS]


def csv_chunks(league: League, rows: Sequence[LeagueRow], locale: str,
               bom: bool = False) -> Iterator[str]:
    """The table as CSV (a header row, then one row per agency in the order given)."""
    head = header(locale)
    name = head[[c[0] for c in COLUMNS].index("name")]
    return stream(head, ([("" if v is None else v) for v in values(r, league, locale)]
                         for r in rows), bom=bom, free_text=(name,))


def filename(league: League, fmt: str) -> str:
    return f"liga-{league.mpp.code}-{league.period.key}.{fmt}"


FORMATS = {"int": "0", "ikm": "0.00", "pct": "0.0%", "p": "0.0000"}
COLUMN_FORMATS = {"rank_best": "int", "rank_worst": "int", "ikm": "ikm", "ci_low": "ikm",
                  "ci_high": "ikm", "n": "int", "population": "int", "rate_volume": "pct",
                  "target": "int", "rate_target": "pct", "earlier_ikm": "ikm",
                  "change": "ikm", "change_low": "ikm", "change_high": "ikm",
                  "change_p": "p", "versus_p": "p"}


def write_xlsx(target: str | IO[bytes], league: League, rows: Sequence[LeagueRow],
               locale: str) -> None:
    """The table on one sheet: a title (MPP and period), the header row, one row per
    agency in the order given, then how to read the rank band, the comparison and the
    change."""
    lang = _lang(locale)
    words = WORDS[lang]
    book = xlsxwriter.Workbook(target, {"strings_to_formulas": False,
                                        "strings_to_numbers": False, "strings_to_urls": False})
    sheet = book.add_worksheet(words["sheet"])
    bold = book.add_format({"bold": True, "font_size": 13})
    head = book.add_format({"bold": True, "bg_color": "#DDE4EC", "border": 1,
                            "text_wrap": True, "valign": "top"})
    number_formats = {k: book.add_format({"num_format": f}) for k, f in FORMATS.items()}
    sheet.write_string(0, 0, neutralise(f"{words['title']} · {league.mpp.name} · "
                                        f"{league.period.label(lang)}"), bold)
    keys = [c[0] for c in COLUMNS]
    for col, text in enumerate(header(locale)):
        sheet.write_string(2, col, text, head)
        sheet.set_column(col, col, 32 if keys[col] == "name" else 14)
    sheet.freeze_panes(3, 4)
    r = 3
    for row in rows:
        for col, value in enumerate(values(row, league, locale)):
            if value is None:
                continue
            if isinstance(value, str):
                sheet.write_string(r, col, neutralise(value))
            else:
                fmt = COLUMN_FORMATS.get(keys[col])
                sheet.write_number(r, col, value, number_formats[fmt] if fmt else None)
        r += 1
    for k, note in enumerate(NOTES[lang]):
        sheet.write_string(r + 1 + k, 0, note)
    book.close()
