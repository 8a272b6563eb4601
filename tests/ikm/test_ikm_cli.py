"""The ``ikm compute`` console script: outputs, and every input error path (exit status
2, one message naming line and column on stderr, nothing on stdout)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

MAIN = Path(__file__).resolve().parents[2]
G1_TOTALS = [105, 101, 100, 116, 102, 105, 106, 105, 115]


def g1_rows(agency: str = "KEC", desk: str = "L1") -> list[list]:
    cols = [[4] * (t - 87) + [3] * (29 - (t - 87)) for t in G1_TOTALS]
    return [[agency, desk, *(c[i] for c in cols)] for i in range(29)]


def expect_error(h, capsys, argv: list[str], *fragments: str) -> str:
    code, out, err = h.run_cli(capsys, *argv)
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# -- successful runs ----------------------------------------------------------------------


def test_weight_modes_are_applied_and_named(tmp_path: Path, capsys, h) -> None:
    path = h.write_csv(tmp_path / "g1.csv", g1_rows())
    for mode, printed in (("exact", 91.475), ("0.111", 91.38), ("0.11", 90.56)):
        doc = h.run_json(capsys, str(path), "--weights", mode)
        assert doc["weights"] == mode
        assert doc["results"][0]["ikm_converted"] == pytest.approx(printed, abs=0.005)


def test_table_rounds_half_up_for_humans(tmp_path: Path, capsys, h) -> None:
    path = h.write_csv(tmp_path / "g1.csv", g1_rows())
    code, out, err = h.run_cli(capsys, "compute", str(path), "--format", "table")
    assert code == 0 and err == ""
    assert "91.48" in out and "91.47" not in out     # exact 91.475 -> 91.48
    assert "A Sangat baik" in out
    assert "weights exact" in out
    header = next(line for line in out.splitlines() if line.startswith("agency"))
    for column in ("n", "IKM", "grade", "CI", "lowest elements"):
        assert column in header


def test_system_export_with_extra_quoted_columns_is_valid_input(tmp_path: Path, capsys,
                                                                h) -> None:
    """The system's own export: more columns, a BOM, CRLF, and free-text comments with
    commas, quotes and line breaks. Gives exactly what the canonical file gives."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(300):
        desk = ["L1", "L2", "L3"][i % 3]
        scores = [int(v) if v else "" for v in rng.choice([0, 1, 2, 3, 4], size=9,
                                                          p=[0.05, 0.05, 0.1, 0.5, 0.3])]
        rows.append(("KEC-A" if i % 5 else "KEC-B", desk, scores))
    canonical = h.write_csv(tmp_path / "canonical.csv",
                            [[a, d, *s] for a, d, s in rows])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(["response_id", "submitted_at", "agency", "service", "desk", "channel",
                     *[f"U{j}" for j in range(1, 10)], "verified", "flagged", "comment"])
    comments = ["", "cepat, ramah", 'petugas bilang "tunggu"', "baris\nkedua", "ok"]
    for i, (a, d, s) in enumerate(rows):
        writer.writerow([i, "2025-01-02T08:00:00", a, "KTP", d, "qr", *s, "1", "0",
                         comments[i % len(comments)]])
        if i == 10:
            buf.write("\r\n")  # a blank line is skipped
    export = tmp_path / "export.csv"
    export.write_bytes(b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8"))
    assert h.run_json(capsys, str(export)) == h.run_json(capsys, str(canonical))


def test_2004_standard_reads_fourteen_columns(tmp_path: Path, capsys, h) -> None:
    header = ["agency", "desk", *[f"U{j}" for j in range(1, 15)]]
    rows = [["A", "D", *([3] * 13 + [4])] for _ in range(12)]
    path = h.write_csv(tmp_path / "old.csv", rows, header=header)
    doc = h.run_json(capsys, str(path), "--standard", "kepmenpan-25-2004")
    assert doc["standard"] == "kepmenpan-25-2004"
    assert len(doc["results"][0]["elements"]) == 14
    assert doc["results"][0]["ikm"] == pytest.approx(43 / 14)
    expect_error(h, capsys, ["compute", str(h.write_csv(tmp_path / "new.csv", g1_rows())),
                             "--standard", "kepmenpan-25-2004"], "line 1", "column U10")


def test_populations_make_the_agency_stratified(tmp_path: Path, capsys, h) -> None:
    rows = g1_rows("KEC", "L1") + [["KEC", "L2", *([3] * 9)] for _ in range(12)]
    path = h.write_csv(tmp_path / "r.csv", rows)
    pops = tmp_path / "p.csv"
    pops.write_text("agency,desk,population\nKEC,L1,100\nKEC,L2,50\nOTHER,X,10\n")
    doc = h.run_json(capsys, str(path), "--populations", str(pops))
    agency = doc["results"][0]
    assert agency["method"] == "stratified" and agency["population"] == 150
    assert [r["desk"] for r in doc["results"]] == [None, "L1", "L2"]
    partial = tmp_path / "partial.csv"
    partial.write_text("agency,desk,population\nKEC,L1,100\n")
    doc = h.run_json(capsys, str(path), "--populations", str(partial))
    assert doc["results"][0]["method"] == "pooled"
    assert doc["results"][1]["required_sample"] == 80


def test_population_for_a_desk_without_responses_is_reported(tmp_path: Path, capsys,
                                                             h) -> None:
    path = h.write_csv(tmp_path / "r.csv", g1_rows("KEC", "L1"))
    pops = tmp_path / "p.csv"
    pops.write_text("agency,desk,population\nKEC,L1,100\nKEC,L9,40\n")
    doc = h.run_json(capsys, str(path), "--populations", str(pops))
    rows = {r["desk"]: r for r in doc["results"]}
    assert rows[None]["population"] == 140
    assert any("L9" in e for e in rows[None]["data_errors"])
    assert rows["L9"]["not_estimable"] == "no respondents" and rows["L9"]["ikm"] is None


# -- input errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["5", "0", "x", " 3", "3 ", "3.0", "04", "-1", "３"])
def test_bad_score_names_line_and_column(tmp_path: Path, capsys, h, cell: str) -> None:
    rows = g1_rows()
    rows[6][4] = cell                        # data row 7 -> line 8, column U3
    path = tmp_path / "r.csv"
    text = "agency,desk," + ",".join(f"U{j}" for j in range(1, 10)) + "\n"
    text += "".join(",".join(str(v) for v in r) + "\n" for r in rows)
    path.write_text(text, encoding="utf-8")
    msg = expect_error(h, capsys, ["compute", str(path)], "line 8", "column U3",
                       repr(cell))
    assert str(path) in msg


def test_line_numbers_count_physical_lines(tmp_path: Path, capsys, h) -> None:
    """A quoted comment spanning three lines pushes later records down three lines."""
    text = ("agency,desk,U1,U2,U3,U4,U5,U6,U7,U8,U9,comment\n"
            'A,D,4,4,4,4,4,4,4,4,4,"one\ntwo\nthree"\n'
            "A,D,4,4,4,4,4,4,4,4,4,fine\n"
            "A,D,4,4,4,4,4,4,9,4,4,bad\n")
    path = tmp_path / "r.csv"
    path.write_text(text)
    expect_error(h, capsys, ["compute", str(path)], "line 6", "column U7", "'9'")


def test_missing_column(tmp_path: Path, capsys, h) -> None:
    path = tmp_path / "r.csv"
    path.write_text("agency,desk,U1,U2,U3,U4,U5,U6,U7,U8\nA,D,1,2,3,4,1,2,3,4\n")
    expect_error(h, capsys, ["compute", str(path)], "line 1", "column U9", "missing")


def test_duplicate_required_column(tmp_path: Path, capsys, h) -> None:
    path = tmp_path / "r.csv"
    path.write_text("agency,desk,U1,U2,U3,U4,U5,U6,U7,U8,U9,U3\n" + "A,D" + ",3" * 10 + "\n")
    expect_error(h, capsys, ["compute", str(path)], "line 1", "column U3", "2 times")


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\n\n", b"  \r\n"])
def test_empty_file(tmp_path: Path, capsys, h, content: bytes) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(content)
    expect_error(h, capsys, ["compute", str(path)], "line 1", "empty")


def test_header_without_data(tmp_path: Path, capsys, h) -> None:
    path = h.write_csv(tmp_path / "r.csv", [])
    expect_error(h, capsys, ["compute", str(path)], "line 2", "no responses")


@pytest.mark.parametrize(("row", "found"), [("A,D,1,2,3,4,1,2,3,4", 10),
                                            ("A,D,1,2,3,4,1,2,3,4,1,1", 12)])
def test_wrong_number_of_fields(tmp_path: Path, capsys, h, row: str, found: int) -> None:
    path = tmp_path / "r.csv"
    path.write_text("agency,desk,U1,U2,U3,U4,U5,U6,U7,U8,U9\nA,D,1,2,3,4,1,2,3,4,1\n"
                    f"{row}\n")
    expect_error(h, capsys, ["compute", str(path)], "line 3", f"found {found}")


def test_empty_agency(tmp_path: Path, capsys, h) -> None:
    path = tmp_path / "r.csv"
    path.write_text("agency,desk,U1,U2,U3,U4,U5,U6,U7,U8,U9\n,D,1,2,3,4,1,2,3,4,1\n")
    expect_error(h, capsys, ["compute", str(path)], "line 2", "column agency", "empty")


def test_missing_file(tmp_path: Path, capsys, h) -> None:
    expect_error(h, capsys, ["compute", str(tmp_path / "nope.csv")], "nope.csv")


@pytest.mark.parametrize(("line", "fragments"), [
    ("KEC,L1,-1", ("line 2", "column population", "'-1'")),
    ("KEC,L1,1.5", ("line 2", "column population", "'1.5'")),
    ("KEC,L1,", ("line 2", "column population", "''")),
    ("KEC,L1, 12", ("line 2", "column population", "' 12'")),
    ("KEC,L1", ("line 2", "expected 3 fields")),
    (",L1,5", ("line 2", "column agency")),
])
def test_bad_population(tmp_path: Path, capsys, h, line: str, fragments) -> None:
    path = h.write_csv(tmp_path / "r.csv", g1_rows())
    pops = tmp_path / "p.csv"
    pops.write_text(f"agency,desk,population\n{line}\n")
    expect_error(h, capsys, ["compute", str(path), "--populations", str(pops)], *fragments)


def test_duplicate_population(tmp_path: Path, capsys, h) -> None:
    path = h.write_csv(tmp_path / "r.csv", g1_rows())
    pops = tmp_path / "p.csv"
    pops.write_text("agency,desk,population\nKEC,L1,5\nKEC,L2,6\nKEC,L1,5\n")
    expect_error(h, capsys, ["compute", str(path), "--populations", str(pops)],
                 "line 4", "duplicate", "first given on line 2")


def test_population_file_missing_column(tmp_path: Path, capsys, h) -> None:
    path = h.write_csv(tmp_path / "r.csv", g1_rows())
    pops = tmp_path / "p.csv"
    pops.write_text("agency,desk,N\nKEC,L1,5\n")
    expect_error(h, capsys, ["compute", str(path), "--populations", str(pops)],
                 "line 1", "column population")


@pytest.mark.parametrize("args", [["--confidence", "1.5"], ["--confidence", "abc"],
                                  ["--weights", "0.1"], ["--standard", "iso-9001"]])
def test_bad_options_exit_2_with_nothing_on_stdout(tmp_path: Path, capsys, h, args) -> None:
    path = h.write_csv(tmp_path / "r.csv", g1_rows())
    code, out, err = h.run_cli(capsys, "compute", str(path), *args)
    assert code == 2 and out == "" and "error" in err


def test_error_path_in_a_fresh_process(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("agency,desk,U1,U2,U3,U4,U5,U6,U7,U8,U9\nA,D,1,2,3,4,5,2,3,4,1\n")
    env = {**os.environ, "PYTHONPATH": str(MAIN)}
    proc = subprocess.run([sys.executable, "-m", "survey.ikm.cli", "compute", str(path)],
                          capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1
    assert "line 2, column U5: invalid score '5'" in proc.stderr


def test_json_output_is_strict_json(tmp_path: Path, capsys, h) -> None:
    rows = [["A", "D", *([4] * 9)] for _ in range(6)]
    path = h.write_csv(tmp_path / "r.csv", rows)
    code, out, _ = h.run_cli(capsys, "compute", str(path))
    assert code == 0
    doc = json.loads(out, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    desk = doc["results"][1]
    assert desk["grade"] is None and desk["ci_t"] is None and desk["se_converted"] == 0


def test_table_for_one_desk_shows_only_its_row(tmp_path: Path, h) -> None:
    from survey.ikm.cli import compute, render_table

    rows = g1_rows("KEC", "L1") + [["KEC", "L2", *([3] * 9)] for _ in range(12)]
    results = compute(str(h.write_csv(tmp_path / "r.csv", rows)), None)
    full = render_table(list(results.values()), "permenpan-14-2017", "exact", 0.95)
    one = render_table(list(results.values()), "permenpan-14-2017", "exact", 0.95,
                       only_desk="L2")
    body = [line for line in one.splitlines() if line.startswith("KEC")]
    assert len(body) == 1 and " L2 " in body[0]
    assert body[0].split() in [line.split() for line in full.splitlines()]  # same cells
