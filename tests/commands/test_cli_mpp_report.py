"""`flask export mpp-report`: the coordination meeting report of an MPP on the demo (12
agencies, two years). Its numbers are `flask ikm report`'s; bad input writes nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from survey.ikm.standards import display_decimal

MPP = "MPP-HARAPAN"
PERIOD = "2024-S1"
HAS_PDFTOTEXT = shutil.which("pdftotext") is not None
pytestmark = pytest.mark.skipif(not HAS_PDFTOTEXT,
                                reason="pdftotext (Debian poppler-utils) missing")


def ok(runner, *args) -> str:
    result = runner.invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def pdf_text(path: Path) -> str:
    """The PDF's text with runs of white space as one space (tables wrap)."""
    out = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True,
                         text=True, check=True).stdout
    return " ".join(out.split())


def fmt(value: float, lang: str = "id") -> str:
    text = f"{display_decimal(value, 2):,.2f}"
    return text if lang == "en" else text.replace(",", "\0").replace(".", ",").replace(
        "\0", ".")


def ikm_report(runner, agency: str, period: str = PERIOD) -> dict:
    payload = json.loads(ok(runner, "ikm", "report", "--agency", agency, "--period", period,
                            "--format", "json"))
    return next(r for r in payload["results"] if r["desk"] is None)


def children(runner) -> list[tuple[str, str]]:
    """The MPP's agencies (code, name) as `flask agency list` does not give them in JSON:
    read through the models."""
    from sqlalchemy import select

    from survey.core.db import db
    from survey.core.models import Agency

    with runner.app.app_context():
        mpp = db.session.scalar(select(Agency).where(Agency.code == MPP))
        return [(a.code, a.name) for a in mpp.children]


def league_screens(runner) -> dict[str, str | None]:
    """Each agency's verdict against the MPP's other agencies on the league page."""
    from survey.core.db import db
    from survey.core.org.agencies import get_agency
    from survey.core.periods import parse_period
    from survey.core.results import league

    with runner.app.app_context():
        board = league.build(db.session, get_agency(db.session, MPP), parse_period(PERIOD))
        return {r.code: (r.screen.direction if r.screen.flagged else None)
                for r in board.rows if r.screen is not None}


@pytest.fixture
def demo(runner):
    ok(runner, "demo", "--end-month", "2024-06")
    return runner


def test_report_numbers_equal_flask_ikm_report(demo, tmp_path):
    out = tmp_path / "rapat.pdf"
    started = time.perf_counter()
    said = ok(demo, "export", "mpp-report", "--agency", MPP, "--period", PERIOD,
              "--out", str(out))
    elapsed = time.perf_counter() - started
    assert f"Wrote {out}" in said
    assert out.read_bytes()[:5] == b"%PDF-"
    text = pdf_text(out)
    mpp = ikm_report(demo, MPP)
    assert f"IKM Mal Pelayanan Publik Kota Harapan: {fmt(mpp['ikm_converted'])}" in text
    assert f"{fmt(mpp['ci'][0])} – {fmt(mpp['ci'][1])}" in text  # the MPP's interval
    agencies = children(demo)
    assert len(agencies) == 12
    for code, name in agencies:
        row = ikm_report(demo, code)
        assert name in text
        assert row["ikm_converted"] is not None, code
        # the league row: name, IKM, its interval, side by side
        assert f"{name} {fmt(row['ikm_converted'])} {fmt(row['ci'][0])} – {fmt(row['ci'][1])}" \
            in text, code
    for title in ("Kepuasan tertinggi", "Partisipasi paling aktif", "Peningkatan terbesar",
                  "Rapat Koordinasi", "Semester I 2024", "Semester I 2023"):
        assert title in text, title
    # each agency against the others (Benjamini-Hochberg), as the league page says
    words = {"above": "▲ lebih tinggi secara signifikan",
             "below": "▼ lebih rendah secara signifikan", None: "tidak dapat dibedakan"}
    screens = league_screens(demo)
    assert len(screens) == 12
    table = text.split("2. Liga instansi", 1)[1].split("Kepuasan tertinggi", 1)[0]
    for direction, phrase in words.items():
        assert table.count(phrase) == sum(d == direction for d in screens.values()), phrase
    # the MPP against a year earlier, in words
    earlier = ikm_report(demo, MPP, "2023-S1")
    assert fmt(earlier["ikm_converted"]) in text
    assert "bermakna" in text
    print(f"\nmpp-report PDF in {elapsed:.1f} s")  # shown with -s


def test_english_report(demo, tmp_path):
    out = tmp_path / "meeting.pdf"
    ok(demo, "export", "mpp-report", "--agency", MPP, "--period", PERIOD, "--out", str(out),
       "--lang", "en")
    text = pdf_text(out)
    mpp = ikm_report(demo, MPP)
    for heading in ("Coordination Meeting", "League of agencies", "Highest satisfaction",
                    "Most active participation", "Most improved", "Follow-up plan (RTL) status",
                    "Method", "Semester 1 2024"):
        assert heading in text, heading
    assert fmt(mpp["ikm_converted"], "en") in text
    assert "Kepuasan tertinggi" not in text


@pytest.mark.parametrize(("args", "reason"), [
    (("--agency", "NOPE", "--period", PERIOD), "NOPE"),
    (("--agency", "DUKCAPIL", "--period", PERIOD), "has no agencies below it"),
    (("--agency", MPP, "--period", "2024-S3"), "--period"),
])
def test_bad_input_fails_and_writes_nothing(demo, tmp_path, args, reason):
    out = tmp_path / "f.pdf"
    result = demo.invoke(args=["export", "mpp-report", *args, "--out", str(out)])
    assert result.exit_code != 0
    assert reason in result.output, result.output
    assert not out.exists()
