"""The published interval is the same everywhere: `ikm compute` on a signed bundle's own
export (responses.csv + populations.csv) gives the interval the dashboard, the XLSX
workbook and the PDF report show, for the agency, each desk and each element."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from support.factories import desk, fill, make_user
from support.web import login

from survey.core import signing
from survey.core.db import db
from survey.ikm.cli import main as ikm_main
from survey.ikm.standards import display_decimal


def id_format(value: float) -> str:
    """Indonesian, half-up to two decimals, as every page prints it: 78,17."""
    return str(display_decimal(value, 2)).replace(".", ",")


def interval(ci: list[float]) -> str:
    return f"{id_format(ci[0])} – {id_format(ci[1])}"


@pytest.fixture
def exported(app, org, client, tmp_path, capsys):
    """A stratified agency (both desks have a volume), its bundle, and `ikm compute` run on
    the bundle's CSV files: (client signed in as auditor, the bundle's files, results)."""
    fill(org, per_desk=60)
    org.set_volume(db.session, desk("L2"), "month", date(2024, 5, 1), 300)
    db.session.commit()
    signing.ensure_keypair(app.instance_path)
    make_user(org, "aud@bpk.go.id", "auditor")
    login(client, "aud@bpk.go.id")
    response = client.get("/audit/ekspor/KEC-A.bundle?period=2024-05")
    assert response.status_code == 200
    files = {}
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        for name in archive.namelist():
            files[name] = archive.read(name)
            (tmp_path / name).write_bytes(files[name])
    capsys.readouterr()
    assert ikm_main(["compute", str(tmp_path / "responses.csv"), "--populations",
                     str(tmp_path / "populations.csv"), "--format", "json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    rows = {r["desk"]: r for r in results}
    assert rows[None]["method"] == "stratified" and set(rows) == {None, "L1", "L2"}
    return client, files, rows


def test_dashboard_shows_the_intervals_ikm_compute_gives(exported):
    client, _files, rows = exported
    html = client.get("/dashboard/KEC-A?period=2024-05").get_data(as_text=True)
    for key in (None, "L1", "L2"):
        assert interval(rows[key]["ci"]) in html, key
    for element in rows[None]["elements"]:
        assert interval(element["ci"]) in html, element["code"]
    drill = client.get(f"/dashboard/KEC-A/loket/{desk('L2').id}?period=2024-05")
    page = drill.get_data(as_text=True)
    for element in rows["L2"]["elements"]:
        assert interval(element["ci"]) in page, element["code"]


def test_workbook_holds_the_intervals_ikm_compute_gives(exported):
    _client, files, rows = exported
    name = next(n for n in files if n.endswith(".xlsx"))
    book = openpyxl.load_workbook(io.BytesIO(files[name]), data_only=True)
    sheet = book["Loket"]
    found = {}
    for row in sheet.iter_rows(min_row=4, values_only=True):
        if row[0] in ("KEC-A", "L1", "L2") and isinstance(row[6], float):
            found[None if row[0] == "KEC-A" else row[0]] = (row[6], row[7])
    assert set(found) == {None, "L1", "L2"}
    for key, (low, high) in found.items():
        assert low == pytest.approx(rows[key]["ci"][0], abs=1e-9)
        assert high == pytest.approx(rows[key]["ci"][1], abs=1e-9)
    elements = {row[0]: (row[5], row[6]) for row in book["Unsur"].iter_rows(
        min_row=4, values_only=True) if isinstance(row[5], float)}
    for element in rows[None]["elements"]:
        assert elements[element["code"]] == pytest.approx(tuple(element["ci"]), abs=1e-9)
    notes = " ".join(str(c) for row in sheet.iter_rows(values_only=True) for c in row if c)
    assert "Clopper-Pearson" in notes and "Korn-Graubard" in notes


def test_report_prints_the_intervals_ikm_compute_gives(exported, tmp_path):
    binary = shutil.which("pdftotext")
    if binary is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    _client, files, rows = exported
    name = next(n for n in files if n.endswith(".pdf"))
    pdf = Path(tmp_path / "report.pdf")
    pdf.write_bytes(files[name])
    text = subprocess.run([binary, "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True, timeout=60).stdout
    for key in (None, "L1", "L2"):
        assert interval(rows[key]["ci"]) in text, key
    flat = " ".join(text.split())
    assert "Clopper-Pearson" in flat and "Korn-Graubard" in flat
