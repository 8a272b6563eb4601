"""The league of an MPP's agencies (core): rank bands, response rates, year-over-year,
the comparison with the other agencies, the award views, sorting, and the CSV/XLSX."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import pytest
from openpyxl import load_workbook
from scipy.stats import false_discovery_control
from support.factories import MPP_CODE, build_mpp

from survey.core.db import db
from survey.core.errors import NotFound
from survey.core.exports import league as league_export
from survey.core.org.agencies import get_agency
from survey.core.periods import parse_period
from survey.core.results import league
from survey.ikm.engine import krejcie_morgan


@pytest.fixture
def mpp(org):
    build_mpp(org)
    return league.build(db.session, get_agency(db.session, MPP_CODE), parse_period("2024-05"))


def rows(board: league.League) -> dict[str, league.LeagueRow]:
    return {r.code: r for r in board.rows}


def test_rank_bands_overlapping_intervals_share_ranks():
    # X and Y overlap at the top; Z and W overlap below them; nothing crosses the gap.
    bands = league.rank_bands({"X": (90.0, 95.0), "Y": (85.0, 91.0), "Z": (70.0, 80.0),
                               "W": (60.0, 72.0)})
    assert bands == {"X": (1, 2), "Y": (1, 2), "Z": (3, 4), "W": (3, 4)}
    # an interval touching another's bound counts as reaching it
    assert league.rank_bands({"P": (80.0, 85.0), "Q": (75.0, 80.0)}) == {"P": (1, 2),
                                                                      "Q": (1, 2)}
    # separated intervals: one rank each; a wide one spans the narrow ones inside it
    assert league.rank_bands({"A": (90.0, 92.0), "B": (80.0, 82.0), "C": (70.0, 72.0)}) == {
        "A": (1, 1), "B": (2, 2), "C": (3, 3)}
    assert league.rank_bands({"A": (90.0, 92.0), "B": (80.0, 82.0), "C": (70.0, 72.0),
                              "WIDE": (75.0, 91.0)}) == {
        "A": (1, 2), "B": (2, 3), "C": (4, 4), "WIDE": (1, 3)}


def test_band_text():
    row = league.LeagueRow("A", "A", 10, None, None, None, None, None, None)
    assert row.band_text == ""
    assert replace(row, band=(2, 2)).band_text == "2"
    assert replace(row, band=(1, 3)).band_text == "1–3"


def test_the_rows_bands_come_from_the_published_intervals(mpp):
    by_code = rows(mpp)
    estimated = {c: r.estimate.ci for c, r in by_code.items() if r.estimate}
    assert {c: r.band for c, r in by_code.items() if r.estimate} == league.rank_bands(
        estimated)
    assert by_code["D-DINAS"].band_text == "1" and by_code["A-DINAS"].band_text == "2"
    # B and C overlap (C's interval is wide: 25 respondents), so they share 3-4
    assert by_code["B-DINAS"].band_text == by_code["C-DINAS"].band_text == "3–4"
    assert by_code["E-DINAS"].band is None and by_code["E-DINAS"].reason == league.NO_RESPONSES


def test_response_rates_against_volume_and_krejcie_morgan(mpp):
    by_code = rows(mpp)
    a, b, c, d = (by_code[k] for k in ("A-DINAS", "B-DINAS", "C-DINAS", "D-DINAS"))
    assert (a.n, a.population, a.target) == (120, 1000, 278)
    assert a.rate_volume == pytest.approx(120 / 1000)
    assert a.rate_target == pytest.approx(120 / 278)
    # B's second desk served 300 citizens whom nobody rated: they count in its N
    assert (b.n, b.population, b.target) == (80, 2300, krejcie_morgan(2300))
    assert b.estimate.population == 2000  # the engine's N covers desks with respondents
    assert b.rate_volume == pytest.approx(80 / 2300)
    assert (d.population, d.target) == (100, 80)
    assert d.rate_volume == pytest.approx(0.6) and d.rate_target == pytest.approx(0.75)
    # no service volume: no rate at all, not a rate of zero
    assert c.population is None and c.rate_volume is None and c.rate_target is None


def test_year_over_year_against_the_same_period_a_year_earlier(mpp):
    assert mpp.earlier_period.key == "2023-05"
    by_code = rows(mpp)
    d, a, b = by_code["D-DINAS"], by_code["A-DINAS"], by_code["B-DINAS"]
    assert d.change.diff == pytest.approx(d.estimate.ikm_converted
                                          - d.earlier.ikm_converted)
    assert d.change.diff > 20 and d.change_significant and d.change.ci[0] > 0
    assert 0 < a.change.diff < 1 and not a.change_significant and a.change.ci[0] < 0
    assert b.change.diff == pytest.approx(0.0, abs=1e-9) and not b.change_significant
    # C had no responses a year earlier, E has none now: no change either way
    assert by_code["C-DINAS"].earlier is None and by_code["C-DINAS"].change is None
    assert by_code["E-DINAS"].earlier is not None and by_code["E-DINAS"].change is None
    assert [r.code for r in mpp.most_improved] == ["D-DINAS"]


def test_award_views_and_who_is_not_eligible(mpp):
    assert not rows(mpp)["C-DINAS"].confident  # 25 respondents near a grade boundary
    assert [r.code for r in mpp.highest_satisfaction] == ["D-DINAS", "A-DINAS", "B-DINAS"]
    assert [r.code for r in mpp.not_confident] == ["C-DINAS"]
    assert [r.code for r in mpp.most_active] == ["D-DINAS", "A-DINAS", "B-DINAS"]
    assert [r.code for r in mpp.without_volume] == ["C-DINAS", "E-DINAS"]  # by name


def test_sort_orders_are_stable_and_deterministic(mpp):
    def codes(key: str) -> list[str]:
        return [r.code for r in mpp.sorted(key)]

    assert codes("ikm") == ["D-DINAS", "A-DINAS", "C-DINAS", "B-DINAS", "E-DINAS"]
    assert [r.code for r in mpp.rows] == codes("ikm")  # the default order
    assert codes("name") == ["B-DINAS", "C-DINAS", "A-DINAS", "D-DINAS", "E-DINAS"]
    assert codes("n") == ["A-DINAS", "B-DINAS", "D-DINAS", "C-DINAS", "E-DINAS"]
    assert codes("rate") == ["D-DINAS", "A-DINAS", "B-DINAS", "C-DINAS", "E-DINAS"]
    # D rose, A a little, B not at all; C and E have no change (last, by code)
    assert codes("change") == ["D-DINAS", "A-DINAS", "B-DINAS", "C-DINAS", "E-DINAS"]
    assert codes("nonsense") == codes("ikm")
    assert all(mpp.sorted(k) == mpp.sorted(k) for k in league.SORTS)


def test_ties_are_broken_by_agency_code():
    board = league.League(None, parse_period("2024"), None, [
        league.LeagueRow(code, "Same name", 10, None, league.NO_RESPONSES, None, None, None,
                         None) for code in ("C", "A", "B")])
    for key in league.SORTS:
        assert [r.code for r in board.sorted(key)] == ["A", "B", "C"]


def test_each_agency_against_the_others_with_bh(mpp):
    screened = [r for r in mpp.rows if r.screen is not None]
    assert {r.code for r in screened} == {"A-DINAS", "B-DINAS", "C-DINAS", "D-DINAS"}
    raw = [r.screen.comparison.p_value for r in screened]
    assert [r.screen.p_adjusted for r in screened] == pytest.approx(
        false_discovery_control(raw, method="bh").tolist(), rel=1e-12)
    d = rows(mpp)["D-DINAS"].screen
    assert d.flagged and d.direction == "above"
    # the rest is the other four agencies' desks together (E has no estimate: not in it)
    assert d.rest_estimate.n == 120 + 80 + 25
    assert d.member_estimate == rows(mpp)["D-DINAS"].estimate


def test_an_agency_without_agencies_below_it_has_no_league(org):
    with pytest.raises(NotFound) as caught:
        league.build(db.session, get_agency(db.session, "KEC-A"), parse_period("2024-05"))
    assert caught.value.code == "no_children"


def test_a_period_with_no_year_before_it_has_no_change(org):
    build_mpp(org)
    board = league.build(db.session, get_agency(db.session, MPP_CODE), parse_period("0001"))
    assert board.earlier_period is None
    assert all(r.change is None and r.estimate is None for r in board.rows)
    assert board.most_improved == []


@pytest.mark.parametrize("locale", ["id", "en"])
def test_csv_and_xlsx_hold_the_rows_numbers(mpp, locale):
    order = mpp.sorted("name")
    text = "".join(league_export.csv_chunks(mpp, order, locale))
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == league_export.header(locale)
    assert ("Nama instansi" if locale == "id" else "Agency name") in table[0]
    book = io.BytesIO()
    league_export.write_xlsx(book, mpp, order, locale)
    sheet = load_workbook(io.BytesIO(book.getvalue())).active
    sheet_rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=3)]
    assert sheet_rows[0] == table[0]
    keys = [c[0] for c in league_export.COLUMNS]
    for row, from_csv, from_xlsx in zip(order, table[1:], sheet_rows[1:], strict=False):
        cells = dict(zip(keys, from_csv, strict=True))
        xcells = dict(zip(keys, from_xlsx, strict=False))
        assert cells["code"] == xcells["code"] == row.code
        assert int(cells["n"]) == xcells["n"] == row.n
        if row.estimate:
            for key, value in (("ikm", row.estimate.ikm_converted),
                               ("ci_low", row.estimate.ci[0]),
                               ("ci_high", row.estimate.ci[1])):
                assert float(cells[key]) == value
                assert xcells[key] == pytest.approx(value, rel=1e-14)  # Excel keeps 15-16
            assert cells["grade"] == xcells["grade"] == row.estimate.grade
            assert (int(cells["rank_best"]), int(cells["rank_worst"])) == row.band
        else:
            assert cells["ikm"] == "" and xcells["ikm"] is None
        if row.rate_volume is not None:
            assert float(cells["rate_volume"]) == row.rate_volume
            assert xcells["rate_volume"] == pytest.approx(row.rate_volume, rel=1e-14)
            assert int(cells["population"]) == row.population == xcells["population"]
        else:
            assert cells["rate_volume"] == "" and xcells["rate_volume"] is None
        if row.change is not None:
            assert float(cells["change"]) == row.change.diff
            assert xcells["change"] == pytest.approx(row.change.diff, rel=1e-14, abs=1e-12)
            yes = "ya" if locale == "id" else "yes"
            assert (cells["change_significant"] == yes) is row.change_significant
    assert len(table) == 1 + len(order)


def test_csv_neutralises_a_name_a_spreadsheet_would_run(org):
    build_mpp(org)
    get_agency(db.session, "A-DINAS").name = "=HYPERLINK(\"http://x\")"
    db.session.commit()
    board = league.build(db.session, get_agency(db.session, MPP_CODE), parse_period("2024-05"))
    text = "".join(league_export.csv_chunks(board, board.rows, "id"))
    assert "'=HYPERLINK" in text
