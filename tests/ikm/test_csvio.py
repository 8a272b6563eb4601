"""The CSV reader's two paths (numpy fast path, csv-module path) agree on everything,
across block boundaries, quoting styles and line endings."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.ikm import CsvError, StratumStats, read_responses
from survey.ikm.csvio import _ResponseReader
from survey.ikm.standards import PERMENPAN_2017

CODES = [f"U{j}" for j in range(1, 10)]


def read_both(path: Path, block: int) -> tuple[object, object]:
    """(fast path result or error, csv-module result or error), both with small blocks."""
    out = []
    for force in (False, True):
        try:
            out.append(_ResponseReader(str(path), PERMENPAN_2017, block_bytes=block,
                                       force_csv_module=force).read())
        except CsvError as exc:
            out.append((exc.line, exc.column, exc.message))
    return out[0], out[1]


def export_text(rng: np.random.Generator, n: int, quoting: int, newline: str) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=quoting, lineterminator=newline)
    writer.writerow(["id", "agency", "comment", "desk", *CODES, "tail"])
    notes = ["", "a,b", 'say "hi"', "two\nlines", "x" * 40, "ümlaut", "crlf\r\ninside"]
    for i in range(n):
        scores = ["" if v == 0 else str(v) for v in rng.choice(5, size=9,
                                                               p=[.1, .1, .2, .3, .3])]
        agency = ["DINAS", "RS, Umum", 'Kec "A"', "MPP"][int(rng.integers(0, 4))]
        writer.writerow([i, agency, notes[int(rng.integers(0, len(notes)))],
                         f"L{int(rng.integers(0, 3))}", *scores, "end"])
        if rng.random() < 0.05:
            buf.write(newline)
    return buf.getvalue()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL,
                                                csv.QUOTE_NONNUMERIC]),
       st.sampled_from(["\n", "\r\n"]), st.sampled_from([64, 257, 4096, 1 << 20]))
def test_fast_path_equals_csv_module(tmp_path_factory, seed: int, quoting: int,
                                     newline: str, block: int) -> None:
    rng = np.random.default_rng(seed)
    path = tmp_path_factory.mktemp("csv") / "export.csv"
    path.write_bytes(export_text(rng, int(rng.integers(1, 120)), quoting, newline)
                     .encode("utf-8"))
    fast, slow = read_both(path, block)
    assert fast == slow
    assert list(fast) == list(slow)  # same order of first appearance


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["5", "", " 4", "x", '"3', "3,3"]),
       st.sampled_from([64, 4096]))
def test_both_paths_report_the_same_error(tmp_path_factory, seed: int, bad: str,
                                          block: int) -> None:
    rng = np.random.default_rng(seed)
    text = export_text(rng, 40, csv.QUOTE_MINIMAL, "\n")
    lines = text.split("\n")
    # Corrupt a score in a record that starts on its own line (skip continuation lines).
    candidates = [i for i, line in enumerate(lines[1:], 1)
                  if '"' not in line and line.count(",") == 13]
    target = candidates[int(rng.integers(0, len(candidates)))]
    cells = lines[target].split(",")
    cells[4] = bad
    lines[target] = ",".join(cells)
    path = tmp_path_factory.mktemp("csv") / "bad.csv"
    path.write_text("\n".join(lines))
    fast, slow = read_both(path, block)
    assert fast == slow
    if bad != "":
        assert isinstance(fast, tuple) and fast[0] == target + 1


def test_reader_matches_direct_statistics(tmp_path: Path, h) -> None:
    rng = np.random.default_rng(1)
    y = h.random_scores(rng, 500, blank_rate=0.1)
    desks = rng.choice(["A", "B"], size=500)
    path = h.write_csv(tmp_path / "r.csv", [["AG", d, *row] for d, row in zip(desks, y,
                                                                             strict=True)])
    out = read_responses(path)
    assert set(out) == {("AG", "A"), ("AG", "B")}
    for d in "AB":
        assert out[("AG", d)] == StratumStats.from_scores(y[desks == d])


def test_bare_carriage_returns_go_to_the_csv_module(tmp_path: Path) -> None:
    path = tmp_path / "mac.csv"
    path.write_bytes(b"agency,desk," + ",".join(CODES).encode() + b"\r"
                     + b"A,D,4,4,4,4,4,4,4,4,4\rA,D,3,3,3,3,3,3,3,3,3\r")
    out = read_responses(path)
    assert out[("A", "D")].n == 2


def test_invalid_utf8_in_a_key_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(b"agency,desk," + ",".join(CODES).encode() + b"\n"
                     + b"A,D,4,4,4,4,4,4,4,4,4\nA\xff,D,4,4,4,4,4,4,4,4,4\n")
    with pytest.raises(CsvError) as err:
        read_responses(path)
    assert (err.value.line, err.value.column) == (3, "agency")


def test_unterminated_quote_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("agency,desk,U1,U2,U3,U4,U5,U6,U7,U8,U9,c\n"
                    'A,D,4,4,4,4,4,4,4,4,4,"never closed\nA,D,4,4,4,4,4,4,4,4,4,x\n')
    with pytest.raises(CsvError) as err:
        read_responses(path)
    assert err.value.line == 2
