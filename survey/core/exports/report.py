"""The narrative PDF report (Laporan Survei Kepuasan Masyarakat), in Bahasa Indonesia as
the regulation's report is, following PermenPAN-RB 14/2017's structure: I Pendahuluan,
II Pengumpulan data, III Hasil, IV Analisis, V Penutup, then the head of unit's signature.

Pure: a built dashboard, the published comments and a timestamp in, PDF bytes out. The
template is rendered with a plain Jinja environment (no Flask context, no request
locale): numbers are always Indonesian (85,04). WeasyPrint fetches nothing: charts are
inline SVG from survey.core.figures and every external URL is refused.

The Indonesian labels here are shared with the XLSX workbook (exports.xlsx).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from survey.core import figures
from survey.core.localtime import local_date, local_time
from survey.core.results.dashboard import Dashboard
from survey.core.results.followups import overdue_ids
from survey.ikm.engine import Estimate
from survey.ikm.standards import display_decimal, get_standard

TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "report"

METHOD_ID = {
    "stratified": "loket dibobot menurut jumlah pengguna layanannya pada periode ini "
                  "(estimator berstrata, stratified)",
    "pooled": "responden semua loket digabung (pooled), karena tidak setiap loket memiliki "
              "data jumlah pengguna layanan untuk periode ini",
}
# What the published interval is, in words an auditor follows (report section 2.5 and the
# workbook's Loket sheet); docs/methodology.md has the formulas.
INTERVAL_METHOD_ID = (
    "Interval 95% yang dipublikasikan dihitung dengan metode Clopper-Pearson (interval "
    "binomial \"eksak\") pada ukuran sampel efektif, dalam bentuk Korn-Graubard yang dipakai "
    "lembaga statistik kesehatan Amerika Serikat (NCHS) untuk proporsi yang dekat dengan 0 "
    "atau 1. Nilai rata-rata pada skala 1–4 dipetakan ke proporsi p = (NRR − 1)/3. Ukuran "
    "sampel efektif memperhitungkan bobot tiap loket dan kecenderungan seorang responden "
    "memberi nilai yang mirip pada semua unsur: untuk indeks gabungan beberapa loket ia "
    "diturunkan dari galat baku dengan faktor derajat bebas Korn-Graubard; untuk satu loket, "
    "sebaran jawaban loket itu digabungkan dengan sebaran loket-loket lain di instansi yang "
    "sama (berbobot 30 responden; bila tidak ada loket lain dengan sedikitnya 30 responden, "
    "dipakai nilai hati-hati 0,25). Berbeda dengan interval t biasa (IKM ± t × galat baku), "
    "interval ini tidak menyempit menjadi satu titik ketika hampir semua jawaban bernilai 4 "
    "dan tidak pernah melewati batas 25–100. Dalam simulasi dengan jawaban yang saling "
    "berkorelasi, interval ini memuat nilai sebenarnya sedikitnya 93% dari waktu pada "
    "setiap kombinasi ukuran sampel, korelasi dan tingkat kepuasan yang diuji."
)
PROFILE_TITLES_ID = {"sex": "Jenis kelamin", "age": "Usia", "education": "Pendidikan",
                     "occupation": "Pekerjaan"}
_CHOICES_ID = {
    "sex": {"L": "Laki-laki", "P": "Perempuan"},
    "age": {"<20": "Di bawah 20 tahun", "20-29": "20–29 tahun", "30-39": "30–39 tahun",
            "40-49": "40–49 tahun", "50-59": "50–59 tahun", "60+": "60 tahun ke atas"},
    "education": {"SD": "SD", "SMP": "SMP", "SMA": "SMA/SMK", "D1-D3-D4": "D1–D4",
                  "S1": "S1", "S2": "S2", "S3": "S3"},
    "occupation": {"PNS": "PNS", "TNI": "TNI", "POLRI": "POLRI", "Swasta": "Pegawai swasta",
                   "Wirausaha": "Wirausaha", "Lainnya": "Lainnya"},
}
_STATUS_ID = {"planned": "Direncanakan", "in_progress": "Sedang berjalan", "done": "Selesai",
              "cancelled": "Dibatalkan"}
CHANNELS_ID = {
    "qr": "Kode QR di loket (dipindai dengan ponsel responden)",
    "ticket": "Tiket kunjungan sekali pakai (jawaban terverifikasi)",
    "kiosk": "Kios/tablet di lokasi pelayanan",
    "paper": "Kuesioner kertas (dientri petugas)",
    "import": "Impor data dari sistem lain",
}


def choice_label_id(dimension: str, value: str | None) -> str:
    """A respondent-profile choice in Indonesian; empty = not stated."""
    if not value:
        return "Tidak diisi"
    return _CHOICES_ID.get(dimension, {}).get(value, value)


def status_id(status: str) -> str:
    return _STATUS_ID.get(status, status)


def reason_id(reason: str | None) -> str:
    """Why a desk or agency has no estimate, in Indonesian."""
    if not reason:
        return ""
    if reason in ("no respondents", "no responses in this period"):
        return "belum ada responden pada periode ini"
    if reason.startswith("nobody answered "):
        return "tidak ada responden yang menjawab " + reason.removeprefix("nobody answered ")
    return reason


def number_id(value: float | None, places: int = 2) -> str:
    """Indonesian number format, rounded half-up like every report: 85,04; 1.234."""
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * places if places else "")
    return format_decimal(display_decimal(value, places), format=pattern, locale="id")


def percent_id(value: float | None, places: int = 1) -> str:
    return "—" if value is None else number_id(100 * value, places) + "%"


def date_id(day: date | None) -> str:
    return "—" if day is None else format_date(day, "d MMMM y", locale="id")


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(num=number_id, pct=percent_id, tanggal=date_id)
    env.globals.update(choice=choice_label_id, status=status_id, reason=reason_id,
                       profile_title=lambda d: PROFILE_TITLES_ID.get(d, d))
    return env


def _refuse(url: str, *args: Any, **kwargs: Any) -> dict:
    """WeasyPrint's URL fetcher: the report embeds everything, so nothing is fetched."""
    raise ValueError(f"the report does not load external resources ({url[:60]})")


def _charts(board: Dashboard, names: dict[str, str]) -> dict[str, str]:
    svg: dict[str, str] = {}
    if board.estimate is not None:
        svg["elements"] = figures.elements_chart(
            board.estimate, names, number_id,
            "Nilai per unsur (NRR x 25) dengan interval 95%",
            [e.code for e in board.weakest])
        ranked = [(r.name, r.estimate) for r in board.desks if r.estimate is not None]
        if ranked:
            svg["desks"] = figures.ranking_chart(ranked, number_id,
                                                 "IKM per loket dengan interval 95%")
    if any(t.estimate is not None for t in board.trend):
        svg["trend"] = figures.trend_chart(
            [(t.period.label("id"), t.estimate) for t in board.trend], number_id,
            "IKM pada periode-periode terakhir")
    # Each chart defines its hatch pattern as id="hatch": one document needs distinct ids.
    return {name: chart.replace('id="hatch"', f'id="hatch-{name}"')
            .replace("url(#hatch)", f"url(#hatch-{name})") for name, chart in svg.items()}


def report_context(board: Dashboard, comments: Sequence[tuple[str, str]],
                   generated_at: datetime) -> dict[str, Any]:
    """Everything the template prints, already chosen (no statistics here). Whether the
    period is still running (a provisional report) and which actions are overdue are
    judged on the day `generated_at` falls on in the agency's zone."""
    std = get_standard(board.scope.questionnaire.standard)
    names = {e.code: e.name_id for e in board.scope.questionnaire.elements}
    est: Estimate | None = board.estimate
    strongest = (tuple(sorted(est.elements, key=lambda e: -e.nrr)[:3]) if est else ())
    desk_estimates = [r.estimate for r in board.desks if r.estimate is not None]
    short = [r for r in board.desks if r.estimate is not None
             and r.estimate.sample_adequate is False]
    zone = board.agency.timezone
    today = local_date(generated_at, zone)
    weights_text = (f"1/{len(std.elements)} (tepat)" if board.result.weights == "exact"
                    else f"{board.result.weights} per unsur, seperti laporan manual")
    return {
        "board": board,
        "agency": board.agency,
        "period": board.period,
        "period_label": board.period.label("id"),
        "est": est,
        "std": std,
        "names": names,
        "weakest": board.weakest,
        "strongest": strongest,
        "method": METHOD_ID.get(board.result.method, board.result.method),
        "interval_method": INTERVAL_METHOD_ID,
        "weights_text": weights_text,
        "channels": sorted(board.channels.items(), key=lambda kv: (-kv[1], kv[0])),
        "channel_names": CHANNELS_ID,
        "desk_estimates": desk_estimates,
        "short_desks": short,
        "comments": list(comments),
        "generated_at": generated_at,
        # The agency's own calendar and clock, not the server's (UTC).
        "generated_day": date_id(today),
        "generated_time": local_time(generated_at, zone, "id", long=True),
        "provisional": date_id(board.period.end) if board.period.end >= today else None,
        "overdue": overdue_ids(board.follow_ups, today),
        "svg": _charts(board, names),
    }


def render_html(board: Dashboard, comments: Sequence[tuple[str, str]],
                generated_at: datetime) -> str:
    """The report as HTML (what WeasyPrint lays out); useful for previews and tests."""
    context = report_context(board, comments, generated_at)
    context["css"] = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    return _environment().get_template("report.html").render(**context)


def render_pdf(board: Dashboard, comments: list[tuple[str, str]],
               generated_at: datetime) -> bytes:
    """The report as PDF bytes (A4, page numbers, nothing fetched from outside)."""
    from weasyprint import HTML  # a second to import; only the PDF needs it

    html = render_html(board, comments, generated_at)
    document = HTML(string=html, base_url=str(TEMPLATES), url_fetcher=_refuse)
    pdf = document.write_pdf()
    assert pdf is not None
    return pdf
