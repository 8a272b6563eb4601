"""The coordination meeting report (rapat koordinasi) of a Mal Pelayanan Publik: the MPP's
index and its trend over the years, the league of its agencies with the three awards,
each agency's weakest elements, an element x agency table, the follow-up plans, the
response channels and the method, as an A4 PDF in Indonesian or English.

Every index is the league's (`results.league.build`) or, for the MPP itself, the one
`flask ikm report` gives (`queries.compute_groups` on the MPP's scope): nothing is
recomputed here. The core has no Flask-Babel, so the texts of both languages live in
TEXTS below (like the league's CSV headers); the template picks them by language. Like
the agency report, WeasyPrint fetches nothing."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey.core.exports.report import TEMPLATES, _refuse
from survey.core.localtime import local_date, local_time
from survey.core.models import Agency, CountRollup, FollowUp
from survey.core.periods import Period, PeriodError
from survey.core.results import league as league_mod
from survey.core.results import queries
from survey.core.results.followups import is_overdue
from survey.core.rollups import period_filter
from survey.ikm.compare import Comparison, compare
from survey.ikm.engine import ElementEstimate, Estimate
from survey.ikm.standards import Standard, display_decimal, get_standard

YEARS_BACK = 4          # the trend: this period and the same period up to 4 years before
WEAKEST = 3             # each agency's weakest elements
CHANNELS = ("qr", "kiosk", "ticket", "paper", "import")
LANGS = ("id", "en")


@dataclass(frozen=True)
class YearPoint:
    """The MPP's index in the same period of one year, and its change against the
    previous year shown (None for the first, or when either has no index)."""

    period: Period
    estimate: Estimate
    change: Comparison | None


@dataclass(frozen=True)
class PlanStatus:
    """An agency's follow-up actions for the period, by status; `overdue` counts the
    planned or running ones past their due date (they are also in their status)."""

    planned: int = 0
    in_progress: int = 0
    done: int = 0
    cancelled: int = 0
    overdue: int = 0

    @property
    def total(self) -> int:
        return self.planned + self.in_progress + self.done + self.cancelled


@dataclass
class MeetingReport:
    mpp: Agency
    period: Period
    standard: Standard
    element_names: dict[str, dict[str, str]]  # lang -> code -> name
    estimate: Estimate | None                 # the MPP's own index in the period
    years: list[YearPoint]                    # earliest first, the period last
    league: league_mod.League
    plans: dict[str, PlanStatus]              # agency code -> status counts
    channels: dict[str, dict[str, int]]       # agency code -> channel -> responses
    today: date                               # the MPP's local date when it was built


def build(session: Session, mpp: Agency, period: Period, now: datetime) -> MeetingReport:
    """Everything the report prints for `mpp` in `period`. NotFound (``no_children``)
    when the agency has no agencies below it, as the league raises."""
    board = league_mod.build(session, mpp, period)
    scope = queries.agency_scope(session, mpp)
    estimate = _mpp_estimate(session, scope, period)
    today = local_date(now, mpp.timezone)
    children = league_mod.children_of(session, mpp)
    scopes = queries.agency_scopes(session, children)
    return MeetingReport(
        mpp=mpp, period=period, standard=get_standard(scope.questionnaire.standard),
        element_names={lang: {e.code: e.name(lang) for e in scope.questionnaire.elements}
                       for lang in LANGS},
        estimate=estimate,
        years=_years(session, scope, period, estimate),
        league=board,
        plans=_plans(session, children, period, now),
        channels=_channels(session, scopes, period),
        today=today)


def _mpp_estimate(session: Session, scope: queries.AgencyScope,
                  period: Period) -> Estimate | None:
    """As `flask ikm report --agency MPP` computes it (clean scope, exact weights, 95%)."""
    result = queries.compute_groups(session, [scope], period).get(scope.agency.code)
    return result.estimate if result is not None else None


def _years(session: Session, scope: queries.AgencyScope, period: Period,
           current: Estimate | None) -> list[YearPoint]:
    """The same period in this and each of the YEARS_BACK earlier years that has an
    index; each change is against the previous year listed (Welch, 95%)."""
    found: list[tuple[Period, Estimate]] = []
    if current is not None:
        found.append((period, current))
    p = period
    for _ in range(YEARS_BACK):
        try:
            p = p.year_earlier()
        except PeriodError:
            break
        est = _mpp_estimate(session, scope, p)
        if est is not None:
            found.append((p, est))
    found.reverse()
    points: list[YearPoint] = []
    for i, (p, est) in enumerate(found):
        change = compare(est, found[i - 1][1]) if i else None
        points.append(YearPoint(p, est, change))
    return points


def _plans(session: Session, children: list[Agency], period: Period,
           now: datetime) -> dict[str, PlanStatus]:
    """Each agency's follow-up plan for the period; overdue judged on the day `now`
    falls on in the agency's own zone."""
    by_id = {a.id: a for a in children}
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    today_of = {a.id: local_date(now, a.timezone) for a in children}
    items = session.scalars(select(FollowUp).where(
        FollowUp.agency_id.in_(list(by_id)), FollowUp.period == period.key))
    for item in items:
        code = by_id[item.agency_id].code
        counts[code][item.status] += 1
        if is_overdue(item, today_of[item.agency_id]):
            counts[code]["overdue"] += 1
    return {a.code: PlanStatus(**counts[a.code]) for a in children}


def _channels(session: Session, scopes: list[queries.AgencyScope],
              period: Period) -> dict[str, dict[str, int]]:
    """Responses per channel and agency (the rollups the dashboard counts), one query."""
    agency_of = {d.id: s.agency.code for s in scopes for d in s.desks}
    out: dict[str, dict[str, int]] = {s.agency.code: {} for s in scopes}
    if not agency_of:
        return out
    rows = session.execute(
        select(CountRollup.desk_id, CountRollup.value, func.sum(CountRollup.n))
        .where(CountRollup.desk_id.in_(list(agency_of)), CountRollup.dimension == "channel",
               period_filter(period.start, period.end, CountRollup))
        .group_by(CountRollup.desk_id, CountRollup.value))
    for desk_id, channel, n in rows:
        per = out[agency_of[desk_id]]
        per[channel] = per.get(channel, 0) + int(n)
    return out


# ----------------------------------------------------------------------------- texts
TEXTS: dict[str, dict[str, str]] = {
    "id": {
        "title": "Laporan Survei Kepuasan Masyarakat — Rapat Koordinasi",
        "kind": "LAPORAN SURVEI KEPUASAN MASYARAKAT",
        "meeting": "Rapat Koordinasi",
        "printed": "Dicetak pada",
        "head": "Kepala",
        "nip": "NIP.",
        "page": "Halaman",
        "of": "dari",
        "provisional": "SEMENTARA: periode ini berlangsung sampai {end}; angka masih dapat "
                       "berubah.",
        "s_ikm": "1. IKM Mal Pelayanan Publik",
        "ikm_of": "IKM {name}",
        "interval": "interval 95%",
        "grade": "Mutu pelayanan",
        "no_grade": "belum diberi mutu",
        "no_index": "Belum ada responden pada periode ini, sehingga IKM belum dapat dihitung.",
        "trend": "Perbandingan dengan tahun-tahun sebelumnya (periode yang sama)",
        "period": "Periode",
        "change": "Perubahan dari tahun sebelumnya",
        "no_earlier": "Belum ada data pada periode yang sama di tahun-tahun sebelumnya.",
        "s_league": "2. Liga instansi",
        "league_intro": "Peringkat ditampilkan sebagai rentang: instansi yang intervalnya "
                        "saling tumpang tindih berbagi peringkat (lihat bagian metode).",
        "rank": "Peringkat",
        "against": "Dibanding instansi lain",
        "above": "▲ lebih tinggi secara signifikan",
        "below": "▼ lebih rendah secara signifikan",
        "level": "tidak dapat dibedakan",
        "agency": "Instansi",
        "ikm": "IKM",
        "rate_volume": "n / warga dilayani",
        "rate_target": "n / target sampel",
        "yoy": "Perubahan dari {period}",
        "no_responses": "belum ada responden",
        "element_unanswered": "ada unsur yang tidak dijawab siapa pun",
        "awards": "Penghargaan",
        "award_satisfaction": "Kepuasan tertinggi (mutu pasti, peluang ≥ 95%)",
        "award_active": "Partisipasi paling aktif (responden per warga dilayani)",
        "award_improved": "Peningkatan terbesar (kenaikan bermakna dari setahun sebelumnya)",
        "award_none_satisfaction": "Belum ada instansi yang mutunya pasti pada periode ini.",
        "award_none_active": "Belum ada instansi dengan data jumlah warga dilayani.",
        "award_none_improved": "Tidak ada instansi yang IKM-nya naik secara bermakna.",
        "not_confident": "Belum pasti mutunya (tidak dinilai untuk kepuasan tertinggi): "
                         "{names}.",
        "s_weakest": "3. Unsur terlemah per instansi",
        "weakest_intro": "Tiga unsur dengan nilai terendah (NRR × 25) di setiap instansi: "
                         "prioritas rencana tindak lanjut.",
        "weakest": "Unsur terlemah",
        "s_heat": "4. Nilai unsur per instansi",
        "heat_intro": "Nilai setiap unsur (NRR × 25). Warna latar mengikuti mutu: "
                      "{bands}; angkanya selalu tercetak sehingga tabel tetap terbaca "
                      "dalam cetakan hitam-putih.",
        "s_rtl": "5. Status rencana tindak lanjut (RTL)",
        "rtl_intro": "Kegiatan RTL periode ini per instansi; terlambat = melewati batas "
                     "waktunya tetapi belum selesai, per {day}.",
        "planned": "Direncanakan",
        "in_progress": "Sedang berjalan",
        "done": "Selesai",
        "cancelled": "Dibatalkan",
        "overdue": "Terlambat",
        "total": "Jumlah",
        "no_plan": "belum disusun",
        "s_channels": "6. Saluran pengisian dan kecukupan sampel",
        "qr": "Kode QR",
        "kiosk": "Kios",
        "ticket": "Tiket",
        "paper": "Kertas",
        "import": "Impor",
        "served": "Warga dilayani (N)",
        "target": "Target sampel (Krejcie-Morgan)",
        "adequacy": "Kecukupan",
        "adequate": "cukup",
        "short": "belum cukup",
        "unknown": "N belum tercatat",
        "s_method": "7. Metode",
        "mpp_total": "Mal Pelayanan Publik (gabungan)",
    },
    "en": {
        "title": "Public Satisfaction Survey Report — Coordination Meeting",
        "kind": "PUBLIC SATISFACTION SURVEY REPORT",
        "meeting": "Coordination Meeting",
        "printed": "Printed on",
        "head": "Head of",
        "nip": "NIP",
        "page": "Page",
        "of": "of",
        "provisional": "PROVISIONAL: this period runs until {end}; the figures may still "
                       "change.",
        "s_ikm": "1. The Public Service Mall's index (IKM)",
        "ikm_of": "IKM of {name}",
        "interval": "95% interval",
        "grade": "Grade",
        "no_grade": "not graded",
        "no_index": "No responses in this period, so there is no index yet.",
        "trend": "Against earlier years (the same period)",
        "period": "Period",
        "change": "Change from the year before",
        "no_earlier": "No data in the same period of earlier years.",
        "s_league": "2. League of agencies",
        "league_intro": "Ranks are shown as bands: agencies whose intervals overlap share "
                        "ranks (see the method section).",
        "rank": "Rank",
        "against": "Against the other agencies",
        "above": "▲ significantly higher",
        "below": "▼ significantly lower",
        "level": "not distinguishable",
        "agency": "Agency",
        "ikm": "IKM",
        "rate_volume": "n / citizens served",
        "rate_target": "n / sample target",
        "yoy": "Change from {period}",
        "no_responses": "no responses yet",
        "element_unanswered": "an element nobody answered",
        "awards": "Awards",
        "award_satisfaction": "Highest satisfaction (grade confident, probability ≥ 95%)",
        "award_active": "Most active participation (respondents per citizen served)",
        "award_improved": "Most improved (a significant rise from a year earlier)",
        "award_none_satisfaction": "No agency's grade is confident in this period.",
        "award_none_active": "No agency has a recorded number of citizens served.",
        "award_none_improved": "No agency's index rose significantly.",
        "not_confident": "Grade not yet confident (not considered for highest "
                         "satisfaction): {names}.",
        "s_weakest": "3. Weakest elements per agency",
        "weakest_intro": "The three lowest elements (NRR × 25) of each agency: the "
                         "priorities of the follow-up plan.",
        "weakest": "Weakest elements",
        "s_heat": "4. Elements per agency",
        "heat_intro": "Each element's value (NRR × 25). The background follows the grade: "
                      "{bands}; the value is always printed, so the table reads in "
                      "black-and-white print too.",
        "s_rtl": "5. Follow-up plan (RTL) status",
        "rtl_intro": "The period's follow-up actions per agency; overdue = past its due "
                     "date and not done, as of {day}.",
        "planned": "Planned",
        "in_progress": "In progress",
        "done": "Done",
        "cancelled": "Cancelled",
        "overdue": "Overdue",
        "total": "Total",
        "no_plan": "not drawn up",
        "s_channels": "6. Response channels and sample adequacy",
        "qr": "QR code",
        "kiosk": "Kiosk",
        "ticket": "Ticket",
        "paper": "Paper",
        "import": "Import",
        "served": "Citizens served (N)",
        "target": "Sample target (Krejcie-Morgan)",
        "adequacy": "Adequacy",
        "adequate": "adequate",
        "short": "too small",
        "unknown": "N not recorded",
        "s_method": "7. Method",
        "mpp_total": "Public Service Mall (all agencies)",
    },
}

# The method on one page, in plain words (docs/methodology.md has the formulas).
METHOD: dict[str, tuple[str, ...]] = {
    "id": (
        "<strong>IKM.</strong> Setiap responden menilai {k} unsur pelayanan dengan nilai 1 "
        "(tidak baik) sampai 4 (sangat baik), sesuai PermenPAN-RB Nomor 14 Tahun 2017. "
        "Nilai rata-rata (NRR) setiap unsur adalah jumlah nilainya dibagi jumlah responden "
        "yang menjawabnya (jawaban kosong tidak dihitung). IKM adalah rata-rata tertimbang "
        "NRR dengan bobot yang sama untuk setiap unsur, dikonversi ke skala 25–100 "
        "(× 25) dan dibulatkan ke dua desimal sebelum ditentukan mutunya (A sampai D). "
        "Indeks instansi menimbang loket-loketnya menurut jumlah warga yang dilayani bila "
        "jumlah itu tercatat untuk setiap loket; indeks MPP menggabungkan semua loket "
        "instansi di dalamnya dengan cara yang sama. Kurang dari 10 responden tidak diberi "
        "mutu.",
        "<strong>Interval 95%.</strong> Setiap indeks disertai rentang yang, dengan "
        "keyakinan 95%, memuat nilai yang akan diperoleh seandainya semua warga yang "
        "dilayani mengisi survei (interval Clopper-Pearson pada ukuran sampel efektif). "
        "Semakin banyak responden, semakin sempit rentangnya. Interval tidak menghitung "
        "bias karena responden memilih sendiri untuk mengisi; karena itu rasio responden "
        "per warga dilayani dicantumkan.",
        "<strong>Mutu pasti.</strong> Penghargaan kepuasan tertinggi hanya diberikan kepada "
        "instansi yang peluang mutunya benar sedikitnya 95%, sehingga instansi yang "
        "nilainya dekat batas mutu dengan sedikit responden tidak diunggulkan karena "
        "kebetulan.",
        "<strong>Rentang peringkat.</strong> Peringkat terbaik sebuah instansi = 1 + "
        "jumlah instansi yang batas bawah intervalnya di atas batas atas interval "
        "instansi itu; peringkat terburuk = jumlah instansi yang batas atas intervalnya "
        "mencapai batas bawah interval instansi itu (termasuk dirinya). Instansi yang "
        "intervalnya tumpang tindih tidak dapat dibedakan, sehingga berbagi peringkat.",
        "<strong>Dibanding instansi lain (FDR).</strong> IKM setiap instansi dibandingkan "
        "dengan gabungan instansi lain di MPP. Karena banyak perbandingan dilakukan "
        "sekaligus, nilai p dikoreksi bersama dengan metode Benjamini-Hochberg sehingga "
        "rata-rata paling banyak 5% dari instansi yang disebut berbeda adalah temuan palsu.",
        "<strong>Perubahan dari tahun ke tahun.</strong> IKM dibandingkan dengan periode "
        "yang sama setahun sebelumnya (bebas dari pengaruh musim) dengan uji Welch untuk "
        "dua sampel yang saling bebas. Perubahan disebut <em>bermakna</em> bila nilai p "
        "di bawah 0,05, yaitu bila interval 95% selisihnya tidak memuat 0; selain itu "
        "perubahan dapat terjadi karena kebetulan pengambilan sampel.",
        "<strong>Partisipasi.</strong> Responden per warga dilayani (n/N) memakai jumlah "
        "warga yang dilayani semua loket instansi pada periode ini; target sampel "
        "mengikuti tabel Krejcie dan Morgan untuk jumlah itu.",
    ),
    "en": (
        "<strong>IKM.</strong> Each respondent rates {k} service elements from 1 (poor) to "
        "4 (very good), as PermenPAN-RB Regulation 14 of 2017 prescribes. An element's "
        "mean (NRR) is the sum of its scores divided by the respondents who answered it "
        "(blanks do not count). The IKM is the weighted mean of the NRRs with equal "
        "weights, converted to the 25–100 scale (× 25) and rounded to two decimals before "
        "its grade (A to D) is read. An agency's index weights its desks by the citizens "
        "each served when every desk's number is recorded; the MPP's index combines all "
        "its agencies' desks the same way. Fewer than 10 respondents get no grade.",
        "<strong>95% interval.</strong> Each index comes with a range that, with 95% "
        "confidence, holds the value we would get if every citizen served answered "
        "(a Clopper-Pearson interval on the effective sample size). More respondents give "
        "a narrower range. The interval does not cover the bias of respondents choosing "
        "to answer; that is why respondents per citizen served are printed.",
        "<strong>Confident grade.</strong> The highest-satisfaction award goes only to "
        "agencies whose grade is right with a probability of at least 95%, so an agency "
        "close to a grade boundary with few respondents does not win by chance.",
        "<strong>Rank bands.</strong> An agency's best rank = 1 + the number of agencies "
        "whose interval's lower bound is above its upper bound; its worst rank = the "
        "number of agencies whose upper bound reaches its lower bound (itself included). "
        "Agencies whose intervals overlap cannot be told apart, so they share ranks.",
        "<strong>Against the other agencies (FDR).</strong> Each agency's IKM is compared "
        "with the MPP's other agencies together. As many comparisons are made at once, "
        "the p-values are adjusted together by Benjamini-Hochberg, so that on average at "
        "most 5% of the agencies called different are false discoveries.",
        "<strong>Year over year.</strong> The IKM is compared with the same period a year "
        "earlier (free of seasons) by Welch's test for two independent samples. A change "
        "is <em>significant</em> when its p-value is below 0.05, that is when the 95% "
        "interval of the difference excludes 0; otherwise it may be sampling chance.",
        "<strong>Participation.</strong> Respondents per citizen served (n/N) use the "
        "citizens served at all the agency's desks in the period; the sample target is "
        "the Krejcie-Morgan table's for that number.",
    ),
}


def number(value: float | None, places: int = 2, lang: str = "id") -> str:
    """85,04 in Indonesian, 85.04 in English; rounded half-up like every report."""
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * places if places else "")
    return format_decimal(display_decimal(value, places), format=pattern,
                          locale="en" if lang == "en" else "id")


def _lang(lang: str) -> str:
    return lang if lang in LANGS else "id"


# A light background per grade (A best): black text stays readable on each.
GRADE_COLOURS = {"A": "#b9e3c6", "B": "#e2f0c4", "C": "#fbe3b0", "D": "#f5c2bd"}


def context(report: MeetingReport, lang: str, generated_at: datetime) -> dict[str, Any]:
    """Everything the template prints, in `lang` ("id" or "en")."""
    lang = _lang(lang)
    t = TEXTS[lang]
    std = report.standard

    def num(value: float | None, places: int = 2) -> str:
        return number(value, places, lang)

    def pct(value: float | None, places: int = 1) -> str:
        return "—" if value is None else num(100 * value, places) + "%"

    def change(c: Comparison) -> str:
        return league_mod.change_in_words(c, lang, lambda v: num(v))

    def against(row: league_mod.LeagueRow) -> str:
        """The agency against the MPP's other agencies (Benjamini-Hochberg at 0.05)."""
        if row.screen is None:
            return "—"
        if not row.screen.flagged:
            return t["level"]
        return t["above"] if row.screen.direction == "above" else t["below"]

    def grade_of(e: Estimate) -> str:
        if not e.grade:
            return t["no_grade"]
        label = e.grade_label_en if lang == "en" else e.grade_label
        return f"{e.grade} ({label})"

    def colour(value: float) -> str:
        return GRADE_COLOURS.get(std.grade(value).grade, "#ffffff")

    def element_of(e: Estimate | None, code: str) -> ElementEstimate | None:
        return next((x for x in e.elements if x.code == code), None) if e else None

    bands = "; ".join(f"{b.grade} ≥ {num(float(b.lower))}" for b in std.bands[:-1])
    board = report.league
    zone = report.mpp.timezone
    today = local_date(generated_at, zone)
    return {
        "t": t, "lang": lang, "r": report, "league": board, "rows": board.rows,
        "mpp": report.mpp, "std": std, "names": report.element_names[lang],
        "period_label": report.period.label(lang),
        "earlier_label": board.earlier_period.label(lang) if board.earlier_period else None,
        "num": num, "pct": pct, "change": change, "grade_of": grade_of, "colour": colour,
        "against": against,
        "element_of": element_of, "channels": CHANNELS,
        "heat_intro": t["heat_intro"].format(bands=bands),
        "method": [p.replace("{k}", str(len(std.elements))) for p in METHOD[lang]],
        "date": lambda d: format_date(d, "d MMMM y", locale=lang),
        "printed": local_time(generated_at, zone, lang, long=True),
        "provisional": (t["provisional"].format(end=format_date(report.period.end,
                                                                "d MMMM y", locale=lang))
                        if report.period.end >= today else None),
        "rtl_intro": t["rtl_intro"].format(day=format_date(today, "d MMMM y", locale=lang)),
    }


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                       autoescape=select_autoescape(default=True, default_for_string=True),
                       trim_blocks=True, lstrip_blocks=True)


def render_html(report: MeetingReport, lang: str, generated_at: datetime) -> str:
    ctx = context(report, lang, generated_at)
    ctx["css"] = "\n".join((TEMPLATES / name).read_text(encoding="utf-8")
                           for name in ("report.css", "mpp_report.css"))
    return _environment().get_template("mpp_report.html").render(**ctx)


def render_pdf(report: MeetingReport, lang: str, generated_at: datetime) -> bytes:
    """The report as A4 PDF bytes (page numbers, nothing fetched from outside)."""
    from weasyprint import HTML  # a second to import; only the PDF needs it

    html = render_html(report, lang, generated_at)
    pdf = HTML(string=html, base_url=str(TEMPLATES), url_fetcher=_refuse).write_pdf()
    assert pdf is not None
    return pdf


def filename(report: MeetingReport) -> str:
    return f"rapat-koordinasi-{report.mpp.code}-{report.period.key}.pdf"
