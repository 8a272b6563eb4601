"""The narrative PDF report: the regulation's five chapters, the engine's numbers in
Indonesian format, the follow-up plan and the head of unit's signature block."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from support.factories import desk, fill

from survey.core.db import db
from survey.core.exports.report import number_id, render_html, render_pdf
from survey.core.models import FollowUp
from survey.core.org.agencies import get_agency
from survey.core.periods import parse_period
from survey.core.results import dashboard as services
from survey.core.results.dashboard import Dashboard
from survey.ikm.standards import display_decimal

GENERATED = datetime(2024, 6, 3, 2, 30, tzinfo=UTC)
CHAPTERS = ("BAB I", "PENDAHULUAN", "BAB II", "PENGUMPULAN DATA", "BAB III", "HASIL",
            "BAB IV", "ANALISIS", "BAB V", "PENUTUP")
ACTION = "Menambah petugas loket pada jam sibuk dan memasang papan alur layanan"


def pdftotext() -> str:
    found = shutil.which("pdftotext")
    if found:
        return found
    if os.environ.get("SURVEY_REQUIRE_BROWSER") == "1":
        pytest.fail("pdftotext (poppler-utils) is required to read the PDF report")
    pytest.skip("pdftotext (poppler-utils) is not installed: the PDF cannot be read back")


def text_of(pdf: bytes, work: Path) -> str:
    binary = pdftotext()
    path = work / "report.pdf"
    path.write_bytes(pdf)
    out = subprocess.run([binary, "-enc", "UTF-8", str(path), "-"], capture_output=True,
                         check=True, timeout=60)
    return re.sub(r"\s+", " ", out.stdout.decode("utf-8"))


def board_for(period_key: str = "2024-05", agency: str = "KEC-A") -> Dashboard:
    return services.build(db.session, get_agency(db.session, agency), parse_period(period_key))


def id_format(value: float, places: int = 2) -> str:
    return str(display_decimal(value, places)).replace(".", ",")


@pytest.fixture
def filled(org):
    fill(org)
    org.set_volume(db.session, desk("L2"), "month", date(2024, 5, 1), 200)
    agency = get_agency(db.session, "KEC-A")
    agency.head_name = "Dra. Siti Rahmawati, M.Si."
    agency.head_nip = "19750101 200003 2 001"
    db.session.add(FollowUp(agency_id=agency.id, period="2024-05", element_code="U3",
                            action=ACTION, owner="Sekretaris Kecamatan",
                            due_date=date(2024, 9, 30)))
    db.session.commit()
    return org


def test_report_contains_the_standard_structure_and_the_engine_numbers(filled, tmp_path):
    board = board_for()
    est = board.estimate
    assert est is not None and est.method == "stratified"
    pdf = render_pdf(board, [("Loket 1", "Antrean lama & <panas>")], GENERATED)
    assert pdf.startswith(b"%PDF")
    text = text_of(pdf, tmp_path)

    for heading in CHAPTERS:
        assert heading in text, heading
    assert "LAPORAN SURVEI KEPUASAN MASYARAKAT" in text
    assert "Kecamatan A" in text and "Mei 2024" in text
    headline = id_format(est.ikm_converted)
    assert re.fullmatch(r"\d{2},\d{2}", headline)
    assert headline == number_id(est.ikm_converted)
    assert f"IKM Kecamatan A: {headline}" in text
    assert f"mutu pelayanan {est.grade} dan kinerja unit pelayanan {est.grade_label}" in text
    assert f"n = {est.n}" in text
    assert f"{id_format(est.ci[0])} – {id_format(est.ci[1])}" in text
    for row in board.desks:
        assert row.name in text
        assert id_format(row.estimate.ikm_converted) in text
    for e in est.elements:
        assert id_format(e.nrr_converted) in text
    assert ACTION in text and "Sekretaris Kecamatan" in text and "30 September 2024" in text
    assert "Dra. Siti Rahmawati, M.Si." in text
    assert "NIP. 19750101 200003 2 001" in text
    assert "PermenPAN-RB" in text and "Krejcie" in text
    assert "galat pengambilan sampel" in text  # the interval's limits, in plain words
    assert "Antrean lama & <panas>" in text  # escaped in HTML, printed as typed
    assert "Halaman 2 dari" in text  # page numbers


def test_html_embeds_charts_and_fetches_nothing(filled):
    html = render_html(board_for(), [], GENERATED)
    assert html.count("<svg") >= 3  # elements, desks, trend
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", html)
    assert "<script" not in html
    assert "Rp" not in html and "85.04" not in html  # no English number format leaks


def test_report_without_responses_or_head_of_unit(org, tmp_path):
    board = board_for("2023-01")
    assert board.estimate is None
    text = text_of(render_pdf(board, [], GENERATED), tmp_path)
    for heading in CHAPTERS:
        assert heading in text, heading
    assert "belum dapat disimpulkan" in text
    assert "NIP. ......" in text and "(......" in text  # blank lines to sign by hand


def test_the_report_is_dated_in_the_agency_zone(filled):
    late = datetime(2024, 5, 31, 20, 0, tzinfo=UTC)  # already 1 June, 03.00, in Jakarta
    html = render_html(board_for("2024-04"), [], late)
    assert "Dibuat pada 1 Juni 2024 pukul 03.00 WIB" in html
    assert "31 Mei 2024</p>\n<p>Kepala" not in html and "1 Juni 2024</p>" in html


def test_a_report_of_a_running_period_says_it_is_provisional(filled, tmp_path):
    during = datetime(2024, 5, 20, 3, 0, tzinfo=UTC)
    text = text_of(render_pdf(board_for(), [], during), tmp_path)
    notice = "SEMENTARA / PROVISIONAL: periode berlangsung sampai 31 Mei 2024"
    assert text.count(notice) >= 3  # the cover and the header of every other page
    # the last day of the period is still provisional; the day after it is not
    last_day = datetime(2024, 5, 31, 3, 0, tzinfo=UTC)
    assert "PROVISIONAL" in render_html(board_for(), [], last_day)
    assert "PROVISIONAL" not in render_html(board_for(), [], GENERATED)


def test_overdue_follow_up_actions_are_marked_in_the_report(filled):
    agency = get_agency(db.session, "KEC-A")
    for status in ("in_progress", "done", "cancelled"):
        db.session.add(FollowUp(agency_id=agency.id, period="2024-05", element_code="U5",
                                action=f"Kegiatan {status}", owner="Kasi Pelayanan",
                                due_date=date(2024, 9, 30), status=status))
    db.session.commit()
    before = render_html(board_for(), [], datetime(2024, 9, 30, 10, tzinfo=UTC))
    assert "Terlambat" not in before  # due today is not late
    after = render_html(board_for(), [], datetime(2024, 9, 30, 18, tzinfo=UTC))  # 1 Oct WIB
    rows = re.findall(r"<tr>(.*?)</tr>", after)
    late = [r for r in rows if "(Terlambat)" in r]
    assert len(late) == 2  # the planned and the in-progress one; not done nor cancelled
    assert any(ACTION in r for r in late) and any("Kegiatan in_progress" in r for r in late)
    assert "Sebanyak 2 kegiatan telah melewati batas waktunya" in after
