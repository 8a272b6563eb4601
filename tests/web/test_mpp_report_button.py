"""The MPP dashboard's button for the coordination meeting report
(/dashboard/<MPP>/rapat.pdf): the same PDF as `flask export mpp-report`, for the chosen
period and language, to whoever may open the MPP's dashboard."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
from support.factories import MPP_CODE, build_mpp, make_user
from support.web import login

PERIOD = "2024-05"
URL = f"/dashboard/{MPP_CODE}/rapat.pdf"
HAS_PDFTOTEXT = shutil.which("pdftotext") is not None


def pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "r.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True,
                         text=True, check=True).stdout
    return " ".join(out.split())


def test_the_mpp_dashboard_button_downloads_the_pdf(admin, tmp_path):
    page = admin.get(f"/dashboard/{MPP_CODE}?period={PERIOD}").get_data(as_text=True)
    href = f"{URL}?period={PERIOD}&amp;lang=id"
    assert f'href="{href}"' in page and "Laporan rapat koordinasi (PDF)" in page
    child = admin.get(f"/dashboard/A-DINAS?period={PERIOD}").get_data(as_text=True)
    assert "rapat.pdf" not in child  # an agency with no agencies below it has no button

    started = time.perf_counter()
    pdf = admin.get(f"{URL}?period={PERIOD}&lang=id")
    elapsed = time.perf_counter() - started
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data[:5] == b"%PDF-"
    assert f"rapat-koordinasi-{MPP_CODE}-{PERIOD}.pdf" in pdf.headers["Content-Disposition"]
    assert elapsed < 30, elapsed
    if HAS_PDFTOTEXT:
        text = pdf_text(pdf.data, tmp_path)
        assert "Mei 2024" in text and "Liga instansi" in text
        assert "Dinas Arsip" in text and "Entitas Baru" in text


@pytest.mark.skipif(not HAS_PDFTOTEXT, reason="pdftotext (Debian poppler-utils) missing")
def test_the_pdf_follows_the_language_asked_for(admin, tmp_path):
    text = pdf_text(admin.get(f"{URL}?period={PERIOD}&lang=en").data, tmp_path)
    assert "League of agencies" in text and "May 2024" in text
    assert "Liga instansi" not in text


def test_who_may_download_it(client, org):
    build_mpp(org)
    make_user(org, "child@a.go.id", "agency_manager", ["A-DINAS"])
    make_user(org, "mpp@x.go.id", "agency_manager", [MPP_CODE])
    make_user(org, "admin@skm.go.id", "admin")
    make_user(org, "staff@x.go.id", "desk_staff", [MPP_CODE])
    assert client.get(URL).status_code == 302  # to the sign-in page

    login(client, "child@a.go.id")  # a manager of one agency of the MPP only
    mpp_page = client.get(f"/dashboard/{MPP_CODE}").status_code
    assert mpp_page == 404
    assert client.get(f"{URL}?period={PERIOD}").status_code == mpp_page
    client.get("/auth/logout")
    login(client, "staff@x.go.id")
    assert client.get(f"/dashboard/{MPP_CODE}").status_code == 403
    assert client.get(f"{URL}?period={PERIOD}").status_code == 403
    client.get("/auth/logout")
    login(client, "mpp@x.go.id")
    pdf = client.get(f"{URL}?period={PERIOD}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"


def test_bad_period_or_agency_without_agencies_below_it(admin):
    assert admin.get(f"{URL}?period=2024-13").status_code == 400
    assert admin.get(f"/dashboard/A-DINAS/rapat.pdf?period={PERIOD}").status_code == 404
    assert admin.get(f"/dashboard/NOPE/rapat.pdf?period={PERIOD}").status_code == 404
