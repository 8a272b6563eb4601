"""The public infographic of a closed period (/publik/<agency>/infografik.svg|png|pdf):
the figures `flask ikm report` computes, in Indonesian or (?lang=en) English, a PNG of the
exact size whose QR code opens the public page, a one-page A4 PDF; an MPP's is its
aggregate; an open or unknown period, an unknown agency or an agency without results is a
404 that says why."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
from PIL import Image
from support.app import PUBLIC_BASE
from support.factories import fill
from support.web import get, text

from survey.core.db import db, utcnow
from survey.core.models import Agency, FollowUp, ReportingPeriod
from survey.core.responses import NewResponse, record_responses
from survey.ikm.standards import display_decimal

SVG = "{http://www.w3.org/2000/svg}"
ACTION = "Menambah petugas loket pada jam sibuk"
GRADE_ID = {"A": "Sangat baik", "B": "Baik", "C": "Kurang baik", "D": "Tidak baik"}
GRADE_EN = {"A": "Very good", "B": "Good", "C": "Poor", "D": "Very poor"}


def report(runner, agency="KEC-A", period="2024-05") -> dict:
    out = runner.invoke(args=["ikm", "report", "--agency", agency, "--period", period,
                              "--format", "json"])
    assert out.exit_code == 0, out.output
    return {r["desk"]: r for r in json.loads(out.output)["results"]}[None]


def id_format(value: float, places: int = 2) -> str:
    return f"{display_decimal(value, places):,}".replace(",", "x").replace(".", ",") \
        .replace("x", ".")


def en_format(value: float, places: int = 2) -> str:
    return f"{display_decimal(value, places):,}"


def texts(svg: str, cls: str | None = None) -> list[str]:
    """The SVG's texts (of one class), in drawing order."""
    return [t.text for t in ET.fromstring(svg).iter(SVG + "text")
            if cls is None or t.get("class") == cls]


def tool(name: str) -> str:
    """A command-line tool the test reads the output with; skipped when missing, except
    under SURVEY_REQUIRE_BROWSER=1 (CI), where its absence fails the test."""
    found = shutil.which(name)
    if found:
        return found
    if os.environ.get("SURVEY_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{name} is required to read the infographic")
    pytest.skip(f"{name} is not installed")


def close(*keys: str) -> None:
    db.session.add_all([ReportingPeriod(key=key, closed_at=utcnow()) for key in keys])
    db.session.commit()


@pytest.fixture
def published(org):
    """KEC-A's responses of May 2024, May closed (published), June still open, and one
    action of the follow-up plan."""
    fill(org)
    close("2024-05")
    db.session.add(ReportingPeriod(key="2024-06"))
    kec = db.session.scalar(db.select(Agency).where(Agency.code == "KEC-A"))
    db.session.add(FollowUp(agency_id=kec.id, period="2024-05", element_code="U3",
                            action=ACTION, owner="Kepala seksi", status="in_progress"))
    db.session.commit()
    return org


def test_the_svg_shows_what_flask_ikm_report_computes(published, client, runner):
    agency = report(runner)
    response = get(client, "/publik/KEC-A/infografik.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    svg = response.get_data(as_text=True)
    assert texts(svg, "ikm") == [id_format(agency["ikm_converted"])]
    assert texts(svg, "respondents") == [id_format(agency["n"], 0)]
    assert texts(svg, "interval") == [
        f"Interval 95%: {id_format(agency['ci'][0])} – {id_format(agency['ci'][1])}"]
    assert texts(svg, "grade") == [agency["grade"]]
    assert texts(svg, "grade-words") == [GRADE_ID[agency["grade"]]]
    assert texts(svg, "agency") == ["Kecamatan A"] and texts(svg, "period") == ["Mei 2024"]
    words = " ".join(texts(svg))
    for expected in ("Responden", "Rencana tindak lanjut", ACTION, "Sedang berjalan",
                     "Waktu penyelesaian", "Profil responden", "Jenis kelamin",
                     "Tidak disebutkan", "Survei Kepuasan Masyarakat".upper()):
        assert expected in words, expected
    # Every element by its name with its NRR x 25, never a code.
    assert texts(svg, "element-index") == [
        id_format(e["nrr_converted"]) for e in agency["elements"]]
    assert "U3" not in texts(svg) and "in_progress" not in words
    # The default period is the latest closed one: the same picture as naming it.
    assert get(client, "/publik/KEC-A/infografik.svg?period=2024-05").get_data(
        as_text=True) == svg
    square = get(client, "/publik/KEC-A/infografik.svg?format=square").get_data(as_text=True)
    assert 'width="1080" height="1080"' in square
    assert texts(square, "ikm") == [id_format(agency["ikm_converted"])]


def test_english_only_with_lang_en(published, client, runner):
    agency = report(runner)
    svg = get(client, "/publik/KEC-A/infografik.svg?lang=en").get_data(as_text=True)
    assert texts(svg, "ikm") == [en_format(agency["ikm_converted"])]
    assert texts(svg, "grade-words") == [GRADE_EN[agency["grade"]]]
    assert texts(svg, "period") == ["May 2024"]
    words = texts(svg)
    assert "Respondents" in words and "Responden" not in words
    assert "Follow-up plan" in words and "Completion time · In progress" in words
    # The language is the address's, not the visitor's cookie: a cached picture is the
    # same for everyone.
    client.get("/bahasa/en")
    cookie = get(client, "/publik/KEC-A/infografik.svg").get_data(as_text=True)
    assert "Responden" in texts(cookie) and texts(cookie, "period") == ["Mei 2024"]


@pytest.mark.parametrize(("query", "size", "url"), [
    ("", (1080, 1350), "/publik/KEC-A"),
    ("?format=portrait", (1080, 1350), "/publik/KEC-A"),
    ("?format=square", (1080, 1080), "/publik/KEC-A"),
    ("?format=square&lang=en", (1080, 1080), "/publik/KEC-A?lang=en"),
])
def test_the_png_has_its_size_and_its_qr_code_opens_the_public_page(published, client,
                                                                    tmp_path, query, size,
                                                                    url):
    zbarimg = tool("zbarimg")
    response = get(client, f"/publik/KEC-A/infografik.png{query}")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert "public" in response.headers["Cache-Control"]
    with Image.open(io.BytesIO(response.data)) as image:
        assert image.format == "PNG" and image.size == size
    (tmp_path / "i.png").write_bytes(response.data)
    decoded = subprocess.run([zbarimg, "-q", "--raw", str(tmp_path / "i.png")],
                             capture_output=True, text=True, check=True, timeout=60)
    assert decoded.stdout.strip().splitlines() == [PUBLIC_BASE + url]
    assert client.get(url).status_code == 200


def test_the_pdf_is_one_a4_page_with_the_index_period_and_agency(published, client, runner,
                                                                tmp_path):
    pdftotext, pdfinfo = tool("pdftotext"), tool("pdfinfo")
    agency = report(runner)
    response = get(client, "/publik/KEC-A/infografik.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert 'filename="infografik-KEC-A-2024-05.pdf"' in response.headers["Content-Disposition"]
    (tmp_path / "i.pdf").write_bytes(response.data)
    info = subprocess.run([pdfinfo, str(tmp_path / "i.pdf")], capture_output=True, text=True,
                          check=True, timeout=60).stdout
    assert "Pages:           1" in info and "595.276 x 841.89 pts (A4)" in info
    words = subprocess.run([pdftotext, "-enc", "UTF-8", str(tmp_path / "i.pdf"), "-"],
                           capture_output=True, text=True, check=True, timeout=60).stdout
    assert id_format(agency["ikm_converted"]) in words
    assert "Mei 2024" in words and "Kecamatan A" in words
    english = get(client, "/publik/KEC-A/infografik.pdf?lang=en")
    (tmp_path / "en.pdf").write_bytes(english.data)
    words = subprocess.run([pdftotext, "-enc", "UTF-8", str(tmp_path / "en.pdf"), "-"],
                           capture_output=True, text=True, check=True, timeout=60).stdout
    assert en_format(agency["ikm_converted"]) in words and "May 2024" in words


def test_only_published_results_each_refusal_says_why(org, client):
    fill(org)
    org.create_agency(db.session, "KEC-B", "Kecamatan B")
    db.session.commit()
    nothing = get(client, "/publik/KEC-A/infografik.png")
    assert nothing.status_code == 404
    assert "Belum ada hasil yang dipublikasikan" in text(nothing)

    close("2024-05")
    db.session.add(ReportingPeriod(key="2024-06"))
    db.session.commit()
    for path in ("infografik.svg", "infografik.png", "infografik.pdf"):
        still_open = get(client, f"/publik/KEC-A/{path}?period=2024-06")
        assert still_open.status_code == 404, path
        assert "Hasil Juni 2024 belum dipublikasikan: periode itu masih berjalan" in \
            text(still_open)
    english = get(client, "/publik/KEC-A/infografik.svg?period=2024-06&lang=en")
    assert "The results of June 2024 are not published" in text(english)
    for period in ("2024-07", "2024-13", "kemarin"):
        unknown = get(client, f"/publik/KEC-A/infografik.svg?period={period}")
        assert unknown.status_code == 404 and "belum dipublikasikan" in text(unknown)
    no_agency = get(client, "/publik/NOPE/infografik.svg")
    assert no_agency.status_code == 404 and "Tidak ada instansi “NOPE”" in text(no_agency)
    no_results = get(client, "/publik/KEC-B/infografik.pdf")
    assert no_results.status_code == 404
    assert "Kecamatan B tidak memiliki hasil yang dipublikasikan untuk Mei 2024" in \
        text(no_results)
    bad_format = get(client, "/publik/KEC-A/infografik.png?format=round")
    assert bad_format.status_code == 400
    assert "Pilih format potret atau persegi" in text(bad_format)
    assert get(client, "/publik/KEC-A/infografik.svg").status_code == 200


def test_an_mpp_shows_its_aggregate_over_its_tenants(org, client, runner):
    """The mall's index is the one over its tenants' desks (`flask ikm report --agency
    MPP`), not any tenant's; its public page links its own infographic."""
    fill(org)
    org.create_agency(db.session, "MPP", "Mal Pelayanan Publik Kota Contoh")
    kec = db.session.scalar(db.select(Agency).where(Agency.code == "KEC-A"))
    org.update_agency(db.session, kec, kec.name, "MPP", kec.timezone, None, None)
    org.create_agency(db.session, "SAMSAT", "Samsat Kota Contoh", "MPP")
    samsat = org.create_desk(db.session, "SAMSAT", "L1", "Loket Samsat")
    record_responses(db.session, [
        NewResponse(desk_id=samsat.id, answers={f"U{j}": 4 - (i + j) % 2 for j in range(1, 10)},
                    submitted_at=datetime(2024, 5, 20, 3, tzinfo=UTC), channel="qr",
                    sex="P", age="30-39")
        for i in range(20)])
    db.session.commit()
    close("2024-05")
    mall, tenant = report(runner, "MPP"), report(runner, "KEC-A")
    assert mall["n"] == tenant["n"] + 20
    svg = get(client, "/publik/MPP/infografik.svg").get_data(as_text=True)
    assert texts(svg, "ikm") == [id_format(mall["ikm_converted"])]
    assert texts(svg, "respondents") == [id_format(mall["n"], 0)]
    assert texts(svg, "agency") == ["Mal Pelayanan Publik Kota Contoh"]
    # The profile counts every response received (flagged ones too, as the dashboard):
    # KEC-A's 80 did not say, Samsat's 20 are women.
    profile = texts(svg, "profile")
    shares = texts(svg, "profile-share")
    assert shares[profile.index("Perempuan")] == "20%"
    page = text(get(client, "/publik/MPP"))
    for link in ("/publik/MPP/infografik.png?period=2024-05",
                 "/publik/MPP/infografik.png?period=2024-05&format=square",
                 "/publik/MPP/infografik.svg?period=2024-05",
                 "/publik/MPP/infografik.pdf?period=2024-05"):
        assert f'href="{link}"' in page, link
    assert "Infografik:" in page and "PNG potret" in page and "PNG persegi" in page


def test_a_long_agency_name_wraps_and_shrinks(published, client):
    name = ("Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu Kabupaten Kepulauan Siau "
            "Tagulandang Biaro Provinsi Sulawesi Utara, Unit Pelayanan Perizinan Terpadu")
    kec = db.session.scalar(db.select(Agency).where(Agency.code == "KEC-A"))
    kec.name = name
    db.session.commit()
    for layout, largest in (("portrait", 50), ("square", 44)):
        svg = get(client, f"/publik/KEC-A/infografik.svg?format={layout}").get_data(
            as_text=True)
        lines = [t for t in ET.fromstring(svg).iter(SVG + "text")
                 if t.get("class") == "agency"]
        assert len(lines) >= 3, layout
        assert " ".join(t.text for t in lines) == name  # nothing cut off
        assert all(float(t.get("font-size")) < largest for t in lines), layout


def test_drawing_is_rate_limited(published, app, client):
    app.config["INFOGRAPHIC_RATE_LIMIT"] = "2 per minute"
    assert [get(client, "/publik/KEC-A/infografik.svg").status_code
            for _ in range(3)] == [200, 200, 429]
    assert get(client, "/publik/KEC-A").status_code == 200  # the page itself is not limited
