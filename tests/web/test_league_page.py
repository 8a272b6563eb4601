"""The league of an MPP's agencies (/dashboard/<MPP>/liga) with its downloads, the change
in words, and the year-over-year line on the dashboard and the public page."""

from __future__ import annotations

import csv
import html
import io
import json
import re

import pytest
from openpyxl import load_workbook
from support.factories import MPP_CODE, build_mpp, desk, make_user
from support.web import login

from survey.core.db import db, utcnow
from survey.core.models import ReportingPeriod
from survey.core.org.agencies import get_agency
from survey.core.periods import add_months, local_today, parse_period
from survey.core.results import league
from survey.core.seed import DEMO_AGENCIES
from survey.ikm.compare import Comparison
from survey.ikm.standards import display_decimal
from survey.web.labels import change_in_words

PERIOD = "2024-05"
URL = f"/dashboard/{MPP_CODE}/liga"


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))).strip()


def fmt(value: float, places: int = 2, locale: str = "id") -> str:
    """A number as the page writes it: 1.234,56 in Indonesian, 1,234.56 in English."""
    text = f"{display_decimal(value, places):,.{places}f}"
    if locale == "en":
        return text
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def table_rows(page: str) -> list[str]:
    """The text of each row of the league table, in page order."""
    body = re.search(r'<table class="grid league">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert body, "no league table on the page"
    return [text_of(row) for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)]


def report(runner, agency: str, period: str = PERIOD) -> dict:
    out = runner.invoke(args=["ikm", "report", "--agency", agency, "--period", period,
                              "--format", "json"])
    assert out.exit_code == 0, out.output
    return next(r for r in json.loads(out.output)["results"] if r["desk"] is None)


def the_league() -> league.League:
    return league.build(db.session, get_agency(db.session, MPP_CODE), parse_period(PERIOD))


def test_each_row_equals_flask_ikm_report(admin, runner):
    page = admin.get(f"{URL}?period={PERIOD}")
    assert page.status_code == 200
    shown = table_rows(page.get_data(as_text=True))
    board = the_league()
    for row in board.rows:
        expected = report(runner, row.code)
        if expected["ikm_converted"] is None:  # E-DINAS: no responses in May 2024
            assert row.estimate is None and row.n == expected["n"] == 0
            continue
        e = row.estimate
        assert e.ikm_converted == expected["ikm_converted"]
        assert list(e.ci) == expected["ci"]
        assert (e.n, e.grade, e.confident_grade, e.method) == (
            expected["n"], expected["grade"], expected["confident_grade"], expected["method"])
        line = next(text for text in shown if row.code in text)
        assert f"{fmt(e.ikm_converted)} ({fmt(e.ci[0])} – {fmt(e.ci[1])})" in line
        assert f" {e.n} " in f" {line} " and f"{e.grade} · " in line


def test_the_demo_mpp_league_equals_flask_ikm_report(app, ctx, runner):
    out = runner.invoke(args=["demo"])
    assert out.exit_code == 0, out.output
    last_month = add_months(local_today(app.config["TIMEZONE"]), -1)
    period = parse_period(f"{last_month:%Y-%m}")
    board = league.build(db.session, get_agency(db.session, "MPP-HARAPAN"), period)
    assert {r.code for r in board.rows} == {a.code for a in DEMO_AGENCIES}
    assert len(board.rows) == 12
    assert all(r.change is not None for r in board.rows)  # a year earlier to compare with
    for row in board.rows:
        expected = report(runner, row.code, period.key)
        assert row.estimate.ikm_converted == expected["ikm_converted"]
        assert list(row.estimate.ci) == expected["ci"]
        assert (row.estimate.n, row.estimate.grade) == (expected["n"], expected["grade"])
        assert row.population == expected["population"]  # every demo desk has responses


def test_the_page_in_indonesian_and_in_english(admin):
    board = {r.code: r for r in the_league().rows}
    rise = board["D-DINAS"].change.diff
    page = text_of(admin.get(f"{URL}?period={PERIOD}").get_data(as_text=True))
    assert "Liga instansi" in page and "Mei 2024" in page
    assert f"naik {fmt(rise)} poin, bermakna" in page
    assert "tidak berbeda bermakna" in page  # B-DINAS: the same answers a year earlier
    assert f"naik {fmt(board['A-DINAS'].change.diff)} poin, tidak bermakna" in page
    assert "Kepuasan tertinggi" in page and "Peningkatan terbesar" in page
    assert "Tidak dapat dinilai, mutu belum pasti: Catatan Sipil" in page
    assert "Tanpa volume layanan untuk periode ini: Catatan Sipil, Entitas Baru" in page
    assert "Benjamini-Hochberg" in page  # the method note
    assert "3–4" in page  # B and C share a rank band

    admin.get("/bahasa/en")
    page = text_of(admin.get(f"{URL}?period={PERIOD}").get_data(as_text=True))
    assert "League of agencies" in page and "May 2024" in page
    assert f"up {fmt(rise, locale='en')} points, significant" in page
    assert "no significant difference" in page
    assert "Highest satisfaction" in page and "Most improved" in page
    assert "Not eligible, grade not yet certain: Catatan Sipil" in page
    assert "Liga instansi" not in page


def test_the_award_lists_follow_their_rules(admin):
    page = admin.get(f"{URL}?period={PERIOD}").get_data(as_text=True)

    def award(heading_id: str) -> list[str]:
        section = re.search(rf'<h3 id="{heading_id}">.*?</section>', page, re.S).group(0)
        return [text_of(li) for li in re.findall(r"<li>(.*?)</li>", section, re.S)]

    satisfied = award("award-satisfaction")
    assert [s.split(" — ")[0] for s in satisfied] == ["Dinas Perizinan", "Dinas Arsip",
                                                      "Badan Pendapatan"]
    active = award("award-participation")
    assert [s.split(" — ")[0] for s in active] == ["Dinas Perizinan", "Dinas Arsip",
                                                   "Badan Pendapatan"]
    assert "60,0% (60 dari 100)" in active[0]
    assert [s.split(" — ")[0] for s in award("award-improved")] == ["Dinas Perizinan"]


def test_column_headings_sort_the_table(admin):
    page = admin.get(f"{URL}?period={PERIOD}").get_data(as_text=True)
    for key in league.SORTS:
        assert f"sort={key}" in page
    assert re.search(r'aria-sort="descending"><a href="[^"]*sort=ikm', page)

    def order(sort: str) -> list[str]:
        rows = table_rows(admin.get(f"{URL}?period={PERIOD}&sort={sort}")
                          .get_data(as_text=True))
        return [re.search(r"[A-E]-DINAS", r).group(0) for r in rows]

    board = the_league()
    for key in league.SORTS:
        assert order(key) == [r.code for r in board.sorted(key)], key
    assert order("name") == ["B-DINAS", "C-DINAS", "A-DINAS", "D-DINAS", "E-DINAS"]
    assert order("rate")[:3] == ["D-DINAS", "A-DINAS", "B-DINAS"]
    assert order("bogus") == order("ikm")
    named = admin.get(f"{URL}?period={PERIOD}&sort=name").get_data(as_text=True)
    assert re.search(r'aria-sort="ascending"><a href="[^"]*sort=name', named)
    # choosing another period keeps the sort (the forms carry it, the quick links too)
    assert named.count('<input type="hidden" name="sort" value="name">') == 2
    assert re.search(r'class="quick[^"]*">.*period=[^"&]*&amp;sort=name', named)


@pytest.mark.parametrize("lang", ["id", "en"])
def test_downloads_hold_the_numbers_of_the_page(admin, lang):
    if lang == "en":
        admin.get("/bahasa/en")
    page = admin.get(f"{URL}?period={PERIOD}&sort=rate").get_data(as_text=True)
    shown = table_rows(page)
    csv_url = f"{URL}.csv?period={PERIOD}&sort=rate&lang={lang}"
    links = [html.unescape(u) for u in re.findall(r'href="([^"]*/liga\.(?:csv|xlsx)[^"]*)"',
                                                   page)]
    assert len(links) == 2 and all("sort=rate" in u and f"lang={lang}" in u for u in links)
    got = admin.get(csv_url)
    assert got.status_code == 200 and got.mimetype == "text/csv"
    assert f'filename="liga-{MPP_CODE}-{PERIOD}.csv"' in got.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(got.get_data(as_text=True))))
    workbook = admin.get(f"{URL}.xlsx?period={PERIOD}&sort=rate&lang={lang}")
    assert workbook.status_code == 200
    sheet = load_workbook(io.BytesIO(workbook.data)).active
    cells = [[c.value for c in row] for row in sheet.iter_rows(min_row=3)]
    header = cells[0]
    assert header == list(table[0].keys())
    xrows = [dict(zip(header, row, strict=False)) for row in cells[1:len(table) + 1]]

    ikm, low, high, n, rate, code = (
        ("IKM", "Interval 95% bawah", "Interval 95% atas", "Responden (n)",
         "Responden per warga dilayani (n/N)", "Kode instansi") if lang == "id" else
        ("IKM", "95% interval, low", "95% interval, high", "Respondents (n)",
         "Respondents per citizen served (n/N)", "Agency code"))
    assert len(table) == len(shown) == 5
    for line, row, xrow in zip(shown, table, xrows, strict=True):
        assert row[code] in line and xrow[code] == row[code]  # the same order as the page
        assert f" {row[n]} " in f" {line} " and xrow[n] == int(row[n])
        if row[ikm]:
            expected = (f"{fmt(float(row[ikm]), locale=lang)} "
                        f"({fmt(float(row[low]), locale=lang)} – "
                        f"{fmt(float(row[high]), locale=lang)})")
            assert expected in line
            assert fmt(xrow[ikm], locale=lang) == fmt(float(row[ikm]), locale=lang)
        if row[rate]:
            assert f"{fmt(100 * float(row[rate]), 1, lang)}%" in line
            assert xrow[rate] == pytest.approx(float(row[rate]), rel=1e-14)


def test_a_bad_period_or_format(admin):
    page = admin.get(f"{URL}?period=2024-13")
    assert page.status_code == 400 and "Liga instansi" in page.get_data(as_text=True)
    assert admin.get(f"{URL}.csv?period=2024-13").status_code == 400
    assert admin.get(f"{URL}.pdf?period={PERIOD}").status_code == 404


def test_who_may_see_the_league(client, org):
    build_mpp(org)
    make_user(org, "child@a.go.id", "agency_manager", ["A-DINAS"])
    make_user(org, "mpp@x.go.id", "agency_manager", [MPP_CODE])
    make_user(org, "admin@skm.go.id", "admin")
    make_user(org, "auditor@bpk.go.id", "auditor")
    make_user(org, "staff@x.go.id", "desk_staff", [MPP_CODE])
    assert client.get(URL).status_code == 302  # to the sign-in page

    login(client, "child@a.go.id")  # a manager of one agency of the MPP only
    assert client.get("/dashboard/A-DINAS").status_code == 200
    for url in (URL, f"{URL}.csv?period={PERIOD}", f"{URL}.xlsx?period={PERIOD}",
                f"/dashboard/{MPP_CODE}"):
        assert client.get(url).status_code == 404, url
    client.get("/auth/logout")
    login(client, "staff@x.go.id")
    assert client.get(URL).status_code == 403
    for email in ("mpp@x.go.id", "admin@skm.go.id", "auditor@bpk.go.id"):
        client.get("/auth/logout")
        login(client, email)
        assert client.get(URL).status_code == 200, email
        assert client.get(f"{URL}.csv?period={PERIOD}").status_code == 200, email


def test_the_mpp_dashboard_links_to_its_league(admin):
    page = admin.get(f"/dashboard/{MPP_CODE}?period={PERIOD}").get_data(as_text=True)
    assert f'href="{URL}?period={PERIOD}"' in page and "Liga instansi" in page
    child = admin.get(f"/dashboard/A-DINAS?period={PERIOD}").get_data(as_text=True)
    assert "/liga" not in child


def test_an_agency_without_agencies_below_it_has_no_league(admin):
    page = admin.get("/dashboard/KEC-A/liga")
    assert page.status_code == 404
    assert "KEC-A tidak membawahi instansi lain" in text_of(page.get_data(as_text=True))
    assert admin.get("/dashboard/KEC-A/liga.csv?period=2024-05").status_code == 404
    assert admin.get("/dashboard/NOPE/liga").status_code == 404


def _comparison(diff: float, p: float | None, ci=None) -> Comparison:
    return Comparison(diff, 0.5, 80.0 if p is not None else None, None, p, ci, 0.95)


@pytest.mark.parametrize(("diff", "p", "indonesian", "english"), [
    (1.2, 0.018, "naik 1,20 poin, bermakna", "up 1.20 points, significant"),
    (-0.85, 0.31, "turun 0,85 poin, tidak bermakna", "down 0.85 points, not significant"),
    (0.004, 0.99, "tidak berbeda bermakna", "no significant difference"),
    (-0.0049, 0.99, "tidak berbeda bermakna", "no significant difference"),
    (0.005, 0.98, "naik 0,01 poin, tidak bermakna", "up 0.01 points, not significant"),
    (12.345, 1e-9, "naik 12,35 poin, bermakna", "up 12.35 points, significant"),
    (-3.0, 0.05, "turun 3,00 poin, tidak bermakna", "down 3.00 points, not significant"),
    (2.0, None, "naik 2,00 poin, tidak dapat diuji", "up 2.00 points, cannot be tested"),
])
def test_change_in_words(ctx, diff, p, indonesian, english):
    cmp_ = _comparison(diff, p)
    assert change_in_words(cmp_, "id") == indonesian
    assert change_in_words(cmp_, "en") == english


def test_change_in_words_uses_the_visitors_language_by_default(app):
    cmp_ = _comparison(1.5, 0.001)
    with app.test_request_context("/?lang=en"):
        assert change_in_words(cmp_) == "up 1.50 points, significant"
    with app.test_request_context("/"):
        assert change_in_words(cmp_) == "naik 1,50 poin, bermakna"


def _year_card(page: str) -> str:
    found = re.search(r'<div class="card year-change"[^>]*>(.*?)</div>', page, re.S)
    assert found, "no year-over-year card"
    return re.sub(r" ([.,):])", r"\1", text_of(found.group(1)))  # tags left spaces


def test_the_dashboard_headline_says_the_change_against_a_year_earlier(admin):
    d = {r.code: r for r in the_league().rows}["D-DINAS"]
    page = admin.get(f"/dashboard/D-DINAS?period={PERIOD}").get_data(as_text=True)
    card = _year_card(page)
    low, high = d.change.ci
    assert card == (f"Setahun sebelumnya naik {fmt(d.change.diff)} poin, bermakna "
                    f"dibandingkan Mei 2023 (IKM {fmt(d.earlier.ikm_converted)}) "
                    f"Interval 95% perubahan: {fmt(low)} sampai {fmt(high)} poin")
    # beside the change against the previous period, among the headline cards
    headline = re.search(r'<div class="cards headline">.*?<h2', page, re.S).group(0)
    assert 'class="card year-change"' in headline and "Perubahan" in headline
    assert 'class="value small change up"' in headline
    a_card = _year_card(admin.get(f"/dashboard/A-DINAS?period={PERIOD}").get_data(
        as_text=True))
    assert f"naik {fmt(rows_by_code()['A-DINAS'].change.diff)} poin, tidak bermakna" in a_card
    b_page = admin.get(f"/dashboard/B-DINAS?period={PERIOD}").get_data(as_text=True)
    assert _year_card(b_page).startswith("Setahun sebelumnya tidak berbeda bermakna")
    assert 'class="value small change "' in b_page  # neither up nor down
    c_card = _year_card(admin.get(f"/dashboard/C-DINAS?period={PERIOD}").get_data(
        as_text=True))
    assert c_card == ("Setahun sebelumnya — dibandingkan Mei 2023: belum ada responden pada "
                      "periode itu, sehingga tidak ada pembanding.")
    admin.get("/bahasa/en")
    en = _year_card(admin.get(f"/dashboard/D-DINAS?period={PERIOD}").get_data(as_text=True))
    assert en.startswith(f"A year earlier up {fmt(d.change.diff, locale='en')} points, "
                         f"significant against May 2023 (IKM ")
    # the desk page has no year card (a desk's headline compares with the last period)
    desk_page = admin.get(f"/dashboard/D-DINAS/loket/{desk('L1', 'D-DINAS').id}"
                          f"?period={PERIOD}").get_data(as_text=True)
    assert "year-change" not in desk_page


def rows_by_code() -> dict[str, league.LeagueRow]:
    return {r.code: r for r in the_league().rows}


def test_the_public_page_says_the_change_against_a_year_earlier(client, org):
    build_mpp(org)
    db.session.add(ReportingPeriod(key=PERIOD, closed_at=utcnow()))
    db.session.commit()
    d = rows_by_code()["D-DINAS"]
    card = _year_card(client.get("/publik/D-DINAS").get_data(as_text=True))
    assert card.startswith(f"Setahun sebelumnya naik {fmt(d.change.diff)} poin, bermakna "
                           f"dibandingkan Mei 2023 (IKM {fmt(d.earlier.ikm_converted)})")
    same = _year_card(client.get("/publik/B-DINAS").get_data(as_text=True))
    assert "tidak berbeda bermakna" in same
    client.get("/bahasa/en")
    card = _year_card(client.get("/publik/D-DINAS").get_data(as_text=True))
    assert f"up {fmt(d.change.diff, locale='en')} points, significant" in card
