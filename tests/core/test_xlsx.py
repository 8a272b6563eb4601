"""The auditor's XLSX workbook: its live formulas, recalculated by LibreOffice, reproduce
the engine's numbers (stratified, pooled, one desk, rounded weights); its cached results
do too; blanks stay empty cells; nothing typed by a citizen or an operator becomes a
formula."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from support.factories import desk, fill

from survey.core.db import db
from survey.core.exports import csvfile
from survey.core.exports.rows import ExportScope, export_rows
from survey.core.exports.xlsx import write_workbook
from survey.core.models import FollowUp
from survey.core.org.agencies import get_agency
from survey.core.periods import parse_period
from survey.core.responses import NewResponse, record_responses
from survey.core.results import dashboard as services
from survey.core.results import queries
from survey.core.results.dashboard import Dashboard
from survey.ikm.engine import GroupResult, estimate_groups

try:
    import openpyxl
except ImportError:  # pragma: no cover - openpyxl is in the dev extra
    if os.environ.get("SURVEY_REQUIRE_BROWSER") == "1":
        raise
    pytest.skip("openpyxl (dev extra) is needed to read the workbook back",
                allow_module_level=True)

MAY = datetime(2024, 5, 20, 2, tzinfo=UTC)
REL = 1e-9
RECALC_XCU = (
    '<?xml version="1.0" encoding="UTF-8"?><oor:items '
    'xmlns:oor="http://openoffice.org/2001/registry" '
    'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    '<item oor:path="/org.openoffice.Office.Calc/Formula/Load">'
    '<prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>'
    "</oor:items>")


# --- building the inputs as the application does ------------------------------------------


def inputs(agency_code: str = "KEC-A", period_key: str = "2024-05",
           include_flagged: bool = True):
    """What a caller hands write_workbook: the board, the canonical header and rows, and
    the desk populations."""
    agency = get_agency(db.session, agency_code)
    period = parse_period(period_key)
    board = services.build(db.session, agency, period)
    scope = board.scope
    codes = [e.code for e in scope.questionnaire.elements]
    ids = [d.id for d in scope.desks]
    rows = export_rows(db.session, ExportScope(ids, period.start, period.end, len(codes),
                                               include_flagged=include_flagged))
    pops = queries.populations(db.session, ids, period.start, period.end)
    return board, csvfile.columns(codes), rows, {d.key: pops.get(d.id) for d in scope.desks}


def add_blanks() -> None:
    """Paper responses leaving answers blank: U4 at both desks, U9 once."""
    items = []
    for code, blanks in (("L1", ("U4",)), ("L1", ("U4", "U9")), ("L2", ("U4",))):
        d = desk(code)
        items.append(NewResponse(
            desk_id=d.id, answers={f"U{j}": 1 + j % 4 for j in range(1, 10)
                                   if f"U{j}" not in blanks},
            submitted_at=MAY, channel="paper", service_id=d.services[0].id))
    record_responses(db.session, items)
    db.session.commit()


def write(board: Dashboard, header, rows, populations, path: Path, **kwargs) -> int:
    with path.open("wb") as fh:
        return write_workbook(fh, header, rows, board, populations, **kwargs)


# --- LibreOffice ----------------------------------------------------------------------------


def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found:
        return found
    if os.environ.get("SURVEY_REQUIRE_BROWSER") == "1":
        pytest.fail("LibreOffice (soffice) is required to recalculate the workbook")
    pytest.skip("LibreOffice (soffice) is not installed: the formulas cannot be recalculated")


def recalculate(paths: list[Path], work: Path) -> list[Path]:
    """Open each workbook in LibreOffice with recalculation on load forced, save it as
    XLSX again: the saved values are LibreOffice's results of our formulas."""
    binary = soffice()
    profile = work / "lo-profile"
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(RECALC_XCU)
    out = work / "recalculated"
    done = subprocess.run(
        [binary, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
         "--convert-to", "xlsx", "--outdir", str(out), *map(str, paths)],
        capture_output=True, text=True, timeout=300, check=False)
    results = [out / p.name for p in paths]
    missing = [p.name for p in results if not p.exists()]
    assert not missing, f"LibreOffice did not convert {missing}: {done.stdout} {done.stderr}"
    return results


# --- reading a workbook back ----------------------------------------------------------------


def defined(book, name: str):
    sheet, ref = next(iter(book.defined_names[name].destinations))
    return book[sheet][ref.replace("$", "")].value


def desk_rows(book) -> dict[str, dict[str, object]]:
    """The 'Per loket' sheet as {desk key: {column header: value}}; the agency row is
    keyed by the agency code."""
    sheet = book["Per loket"]
    rows = list(sheet.iter_rows(values_only=True))
    head_at = next(i for i, r in enumerate(rows) if r[1] == "Kode")
    head = rows[head_at]
    out = {}
    for r in rows[head_at + 1:]:
        if r[1] is None:
            break
        out[str(r[1])] = dict(zip(head, r, strict=True))
    return out


def summary(book) -> dict[str, tuple]:
    """The regulation's summary rows of 'Pengolahan data' by their label."""
    return {r[0]: r for r in book["Pengolahan data"].iter_rows(values_only=True)
            if isinstance(r[0], str)}


def close(a: object, b: float) -> bool:
    return isinstance(a, int | float) and a == pytest.approx(b, rel=REL, abs=1e-12)


def assert_matches(book, result: GroupResult, codes: list[str]) -> None:
    """Every desk's and the agency's formulas equal the engine: IKM x 25, NRR per element,
    grade and label."""
    rows = desk_rows(book)
    expected = [(result.agency, result.estimate), *result.desks.items()]
    for key, est in expected:
        row = rows[key]
        assert close(row["IKM x 25"], est.ikm_converted), (key, row["IKM x 25"])
        assert close(row["IKM"], est.ikm), key
        for e in est.elements:
            assert close(row[f"NRR {e.code}"], e.nrr), (key, e.code)
        assert row["Mutu pelayanan"] == (est.grade or "sampel tidak cukup")
        if est.grade:
            assert row["Kinerja unit pelayanan"] == est.grade_label
        if key != result.agency:
            assert row["Responden (n)"] == est.n
    assert close(defined(book, "IKM_instansi"), result.estimate.ikm_converted)
    assert defined(book, "Mutu_instansi") == result.estimate.grade
    assert len(codes) == len(result.estimate.elements)


def assert_pooled_sheet(book, pooled: GroupResult) -> None:
    """The regulation's worksheet equals the engine's pooled agency estimate."""
    rows = summary(book)
    est = pooled.estimate
    nrr = rows["NRR per unsur"][3:3 + len(est.elements)]
    for value, e in zip(nrr, est.elements, strict=True):
        assert close(value, e.nrr), e.code
    counts = rows["Jumlah responden yang menjawab"][3:3 + len(est.elements)]
    assert list(counts) == [e.n for e in est.elements]  # blanks left the denominator
    assert rows["Jumlah responden"][3] == est.n
    assert close(rows["IKM"][3], est.ikm)
    assert close(rows["IKM unit pelayanan (IKM x 25)"][3], est.ikm_converted)
    assert close(defined(book, "IKM_pengolahan"), est.ikm_converted)
    assert rows["Mutu pelayanan"][3] == est.grade
    assert rows["Kinerja unit pelayanan"][3] == est.grade_label


def pooled_result(board: Dashboard, weights: str = "exact") -> GroupResult:
    """The engine on the same desks with every population unknown: the pooled estimate
    the regulation's single worksheet computes."""
    stats = queries.group_inputs(db.session, [board.scope], board.period).statistics
    standard = board.scope.questionnaire.standard
    return estimate_groups(stats[standard], {}, standard, weights)[board.agency.code]


# --- tests ----------------------------------------------------------------------------------


@pytest.fixture
def scenario(org):
    """KEC-A: two desks with blanks and flagged responses (L1 has a volume, L2 not yet);
    KEC-B: one desk with a volume."""
    fill(org, per_desk=30)
    add_blanks()
    org.create_agency(db.session, "KEC-B", "Kecamatan B")
    solo = org.create_desk(db.session, "KEC-B", "L1", "Loket Tunggal")
    org.create_service(db.session, "KEC-B", "AKTA", "Akta kelahiran", None, ["L1"])
    org.set_volume(db.session, solo, "month", date(2024, 5, 1), 90)
    db.session.commit()
    fill_single()
    return org


def fill_single() -> None:
    d = desk("L1", "KEC-B")
    record_responses(db.session, [
        NewResponse(desk_id=d.id, answers={f"U{j}": 2 + (i + j) % 3 for j in range(1, 10)},
                    submitted_at=MAY, channel="kiosk", service_id=d.services[0].id)
        for i in range(25)])
    db.session.commit()


def test_formulas_recalculate_to_the_engine(scenario, tmp_path):
    """Four workbooks, one LibreOffice run: KEC-A pooled, KEC-A stratified, KEC-A
    stratified with the 0.111 weights, and the one-desk KEC-B."""
    paths: dict[str, Path] = {}
    expected: dict[str, tuple[GroupResult, GroupResult]] = {}

    board, header, rows, pops = inputs()
    assert board.result.method == "pooled"
    paths["pooled"] = tmp_path / "pooled.xlsx"
    written = write(board, header, rows, pops, paths["pooled"], cached=False)
    assert written == board.n_clean  # flagged rows were handed over and left out
    expected["pooled"] = (board.result, board.result)

    scenario.set_volume(db.session, desk("L2"), "month", date(2024, 5, 1), 150)
    db.session.commit()
    board, header, rows, pops = inputs()
    assert board.result.method == "stratified"
    paths["stratified"] = tmp_path / "stratified.xlsx"
    write(board, header, rows, pops, paths["stratified"], cached=False)
    pooled = pooled_result(board)
    # weighting by population moved the index: the two sheets must differ here
    assert abs(pooled.estimate.ikm_converted - board.estimate.ikm_converted) > 0.01
    expected["stratified"] = (board.result, pooled)

    board, header, rows, pops = inputs()
    paths["rounded"] = tmp_path / "rounded.xlsx"
    write(board, header, rows, pops, paths["rounded"], weights="0.111", cached=False)
    rounded = queries.compute_groups(db.session, [board.scope], board.period,
                                     weights="0.111")["KEC-A"]
    assert rounded.estimate.ikm_converted != board.estimate.ikm_converted
    expected["rounded"] = (rounded, pooled_result(board, "0.111"))

    board, header, rows, pops = inputs("KEC-B")
    assert board.result.method == "stratified" and len(board.scope.desks) == 1
    paths["single"] = tmp_path / "single.xlsx"
    write(board, header, rows, pops, paths["single"], cached=False)
    expected["single"] = (board.result, board.result)  # one desk: the worksheet is exact

    names = list(paths)
    recalculated = recalculate([paths[n] for n in names], tmp_path)
    codes = [f"U{j}" for j in range(1, 10)]
    for name, path in zip(names, recalculated, strict=True):
        book = openpyxl.load_workbook(path, data_only=True)
        result, pooled_expected = expected[name]
        assert_matches(book, result, codes)
        assert_pooled_sheet(book, pooled_expected)


def test_cached_results_equal_the_engine_without_recalculation(scenario, tmp_path):
    scenario.set_volume(db.session, desk("L2"), "month", date(2024, 5, 1), 150)
    db.session.commit()
    board, header, rows, pops = inputs()
    path = tmp_path / "cached.xlsx"
    write(board, header, rows, pops, path)
    book = openpyxl.load_workbook(path, data_only=True)
    assert_matches(book, board.result, [f"U{j}" for j in range(1, 10)])
    assert_pooled_sheet(book, pooled_result(board))


def test_blanks_stay_empty_cells(scenario, tmp_path):
    board, header, rows, pops = inputs(include_flagged=False)
    path = tmp_path / "blanks.xlsx"
    written = write(board, header, rows, pops, path)
    assert written == board.n_clean
    sheet = openpyxl.load_workbook(path)["Pengolahan data"]
    head = next(r for r in sheet.iter_rows(values_only=True) if r[0] == "No")
    u4, u9 = head.index("U4"), head.index("U9")
    data = [r for r in sheet.iter_rows(values_only=True) if isinstance(r[0], int)]
    assert len(data) == written
    assert sum(r[u4] is None for r in data) == 3
    assert sum(r[u9] is None for r in data) == 1
    assert all(r[u4] in (None, 1, 2, 3, 4) for r in data)
    labels = summary(openpyxl.load_workbook(path))
    assert labels["Jumlah responden yang menjawab"][u4] == f"=COUNT(G7:G{6 + written})"
    assert board.estimate.element("U4").n == written - 3
    assert board.estimate.element("U9").n == written - 1


def test_values_sheets_and_formula_injection(org, tmp_path):
    org.create_agency(db.session, "KEC-X", "=Kecamatan X")
    evil = org.create_desk(db.session, "KEC-X", "L1", "=cmd|' /C calc'!A0")
    org.create_service(db.session, "KEC-X", "S1", "+SUM(1,2)", None, ["L1"])
    org.create_service(db.session, "KEC-X", "S2", "-2+3", None, ["L1"])
    org.create_service(db.session, "KEC-X", "S3", "@SUM(A1)", None, ["L1"])
    agency = get_agency(db.session, "KEC-X")
    db.session.add(FollowUp(agency_id=agency.id, period="2024-05", element_code="U3",
                            action="=HYPERLINK(\"http://evil\",\"x\")", owner="@owner"))
    db.session.commit()
    services_ = {s.code: s.id for s in evil.services}
    record_responses(db.session, [
        NewResponse(desk_id=evil.id, answers={f"U{j}": 3 + (i + j) % 2 for j in range(1, 10)},
                    submitted_at=MAY, channel="qr", service_id=services_[f"S{1 + i % 3}"],
                    sex="P" if i % 2 else "L")
        for i in range(12)])
    db.session.commit()
    board, header, rows, pops = inputs("KEC-X")
    comment = '=HYPERLINK("http://evil","x")'
    path = tmp_path / "evil.xlsx"
    write(board, header, rows, pops, path, comments=[(evil.name, comment)])

    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Pengolahan data", "Per loket", "Loket", "Unsur", "Layanan",
                               "Profil responden", "Komentar", "Rencana tindak lanjut"]
    texts = {c.value for ws in book for row in ws.iter_rows() for c in row
             if c.data_type == "s" and c.value}
    for dangerous in (comment, "=cmd|' /C calc'!A0", "+SUM(1,2)", "-2+3", "@SUM(A1)",
                      "=Kecamatan X (KEC-X)", '=HYPERLINK("http://evil","x")', "@owner"):
        assert "'" + dangerous in texts, dangerous
        assert dangerous not in texts
    # the only formulas are ours, on the two worksheet sheets
    for ws in book:
        formulas = [c.value for row in ws.iter_rows() for c in row if c.data_type == "f"]
        if ws.title in ("Pengolahan data", "Per loket"):
            assert formulas
        else:
            assert formulas == [], ws.title
    with zipfile.ZipFile(path) as z:
        xml = "".join(z.read(n).decode() for n in z.namelist() if n.endswith(".xml"))
    assert not re.search(r"<f>[^<]*(HYPERLINK|cmd|SUM\(1)", xml)

    values = openpyxl.load_workbook(path, data_only=True)
    loket = list(values["Loket"].iter_rows(values_only=True))
    agency_row = next(r for r in loket if r[0] == "KEC-X")
    assert agency_row[2] == board.estimate.n
    assert close(agency_row[5], board.estimate.ikm_converted)
    unsur = {r[0]: r for r in values["Unsur"].iter_rows(values_only=True) if r[0]}
    for e in board.estimate.elements:
        assert close(unsur[e.code][3], e.nrr)
    profile = [r for r in values["Profil responden"].iter_rows(values_only=True)
               if r[0] == "Jenis kelamin"]
    assert {r[1]: r[2] for r in profile} == {"Laki-laki": 6, "Perempuan": 6,
                                             "Tidak diisi": 0}
    layanan = [r for r in values["Layanan"].iter_rows(values_only=True) if r[2]]
    assert len(layanan) == 4  # header and three services


def test_empty_period_still_writes_a_workbook(org, tmp_path):
    board, header, rows, pops = inputs(period_key="2023-01")
    path = tmp_path / "empty.xlsx"
    assert write(board, header, rows, pops, path) == 0
    book = openpyxl.load_workbook(path, data_only=True)
    assert desk_rows(book)["L1"]["IKM x 25"] == "-"
    assert summary(book)["Jumlah responden"][3] == 0


def test_a_stratified_agency_needs_every_population(org, tmp_path):
    fill(org, per_desk=12)
    org.set_volume(db.session, desk("L2"), "month", date(2024, 5, 1), 150)
    db.session.commit()
    board, header, rows, pops = inputs()
    assert board.result.method == "stratified"
    with pytest.raises(ValueError, match="L2"):
        write(board, header, rows, {**pops, "L2": None}, tmp_path / "bad.xlsx")
