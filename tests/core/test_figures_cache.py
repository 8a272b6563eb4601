"""The dashboard keeps the figures of sealed periods (survey.core.results.cache): computed
once, equal to a fresh computation, and recomputed after anything they depend on changes
(a service volume, a desk's name, a comment decision, a period reopened and corrected);
a period that is still open is computed on every view."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from support.factories import MAY, desk, fill, make_user

from survey.core import review
from survey.core.db import db, utcnow, write_transaction
from survey.core.models import AuditEvent, ReportingPeriod, Response
from survey.core.org.agencies import get_agency
from survey.core.periods import parse_period
from survey.core.responses import NewResponse, record_responses
from survey.core.results import cache, dashboard
from survey.core.results.published import public_results, reopen_period

MAY_KEY = "2024-05"


def board(key: str = MAY_KEY) -> dashboard.Dashboard:
    return dashboard.build(db.session, get_agency(db.session, "KEC-A"), parse_period(key))


def fresh(key: str = MAY_KEY) -> dashboard.Dashboard:
    """The same page computed without the cache."""
    size = cache.FIGURES.size
    cache.FIGURES.resize(0)
    try:
        return board(key)
    finally:
        cache.FIGURES.resize(size)


def close(key: str) -> ReportingPeriod:
    row = ReportingPeriod(key=key, closed_at=utcnow())
    db.session.add(row)
    db.session.commit()
    return row


def counted():
    return cache.FIGURES.hits, cache.FIGURES.misses


def shown(b: dashboard.Dashboard) -> tuple:
    """What a reader of the page sees, as comparable values."""
    return (b.estimate, b.verified, b.everything, b.n_flagged, b.pending_flags,
            b.pending_comments, [(r.key, r.name, r.estimate) for r in b.desks],
            [(s.code, s.estimate) for s in b.services], [(t.period, t.estimate)
                                                         for t in b.trend],
            b.arrivals, b.profile, b.channels)


@pytest.mark.parametrize(("closed", "period", "sealed"), [
    (["2024-Q2"], "2024-05", True),
    (["2024-Q2"], "2024-06-15..2024-07-01", False),   # runs past the seal
    (["2024-Q2", "2024-Q3"], "2024-06-15..2024-07-01", True),  # two seals side by side
    (["2024-S1", "2024-Q2"], "2024-S1", True),        # nested seals
    (["2024-Q1", "2024-Q3"], "2024", False),          # a gap in the middle
    (["2024-Q1", "2024-Q3"], "2024-Q3", True),
    ([], "2024-05", False),
])
def test_which_periods_are_sealed(closed, period, sealed):
    spans = tuple((key, "2025-01-01T00:00:00+00:00") for key in closed)
    assert cache.is_sealed(parse_period(period), spans) is sealed


def test_a_sealed_period_is_computed_once_and_equals_a_fresh_computation(org):
    fill(org)
    close("2024-Q2")
    first = board()
    hits, misses = counted()
    again = board()
    # the page's figures; the trend's earlier months end before the first response
    assert counted() == (hits + 1, misses)
    assert [t.period.key for t in again.trend] == ["2024-05"]
    assert shown(again) == shown(first) == shown(fresh())
    assert again.estimate is not None and again.estimate.n == 74  # 80 less 6 flagged


def test_an_open_period_is_computed_on_every_view(org):
    fill(org)
    before = board()
    hits = cache.FIGURES.hits
    record_responses(db.session, [NewResponse(
        desk_id=desk("L1").id, answers={f"U{i}": 4 for i in range(1, 10)},
        submitted_at=MAY, channel="qr")])
    db.session.commit()
    after = board()
    assert cache.FIGURES.hits == hits
    assert after.estimate.n == before.estimate.n + 1


def test_a_new_volume_or_desk_name_is_shown_at_once(org):
    fill(org)
    close("2024-Q2")
    assert board().estimate.population is None  # no volumes: pooled
    org.set_volume(db.session, desk("L1"), "month", date(2024, 5, 1), 400)
    org.set_volume(db.session, desk("L2"), "month", date(2024, 5, 1), 300)
    db.session.commit()
    after = board()
    assert after.estimate.population == 700 and after.estimate.method == "stratified"
    assert shown(after) == shown(fresh())
    l1 = desk("L1")
    org.update_desk(db.session, l1, "Loket Depan", l1.location, [s.id for s in l1.services])
    db.session.commit()
    assert "Loket Depan" in [r.name for r in board().desks]


def test_a_comment_decision_in_a_sealed_period_updates_the_waiting_count(org):
    fill(org, comments=("Antrean lama", "Ruang tunggu panas"))
    close("2024-Q2")
    assert board().pending_comments == 4  # two comments at each desk
    manager = make_user(org, "m@kec-a.go.id", "agency_manager", ["KEC-A"])
    commented = db.session.query(Response.id).filter(Response.comment.is_not(None)).first()[0]
    with write_transaction(db.session):
        review.moderate_comment(db.session, commented, "publish", "Sopan", manager)
    assert board().pending_comments == 3


def test_a_period_reopened_and_corrected_shows_the_correction(org):
    fill(org)
    row = close("2024-Q2")
    before = board().estimate.n
    reopen_period(db.session, row, "Kuesioner kertas terlambat dimasukkan",
                  datetime.now(UTC), actor=None)
    db.session.commit()
    record_responses(db.session, [NewResponse(
        desk_id=desk("L2").id, answers={f"U{i}": 1 for i in range(1, 10)},
        submitted_at=MAY, channel="paper")])
    row.closed_at = utcnow()
    db.session.commit()
    after = board()
    assert after.estimate.n == before + 1
    assert shown(after) == shown(fresh())


def test_rebuilding_the_rollups_is_audited_and_recomputes_kept_figures(org, runner):
    fill(org)
    close("2024-Q2")
    kept = board()
    misses = cache.FIGURES.misses
    out = runner.invoke(args=["ikm", "rebuild-rollups"])
    assert out.exit_code == 0, out.output
    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event.action == "rollups_rebuilt" and event.details["rows"] > 0
    again = board()
    assert cache.FIGURES.misses == misses + 1
    assert shown(again) == shown(kept)


def test_the_public_page_figures_are_kept_and_follow_a_new_volume(org):
    fill(org)
    close("2024-05")
    agency = get_agency(db.session, "KEC-A")
    first = public_results(db.session, agency, "id")
    hits = cache.FIGURES.hits
    again = public_results(db.session, agency, "id")
    assert cache.FIGURES.hits == hits + 1
    assert first.period.key == "2024-05" and again.estimate == first.estimate
    assert first.estimate.n == board().estimate.n
    org.set_volume(db.session, desk("L1"), "month", date(2024, 5, 1), 400)
    org.set_volume(db.session, desk("L2"), "month", date(2024, 5, 1), 300)
    db.session.commit()
    assert public_results(db.session, agency, "id").estimate.population == 700


def test_an_open_earlier_period_in_the_trend_is_computed_on_every_view(org):
    """The page's own figures are kept under the seal of its period; each trend point
    under its own: a late paper response in April (still open) shows on May's page."""
    fill(org)
    close("2024-05")
    assert [t.period.key for t in board().trend] == ["2024-05"]
    april = datetime(2024, 4, 16, 3, tzinfo=UTC)
    record_responses(db.session, [NewResponse(
        desk_id=desk("L1").id, answers={f"U{i}": 3 for i in range(1, 10)},
        submitted_at=april, channel="paper") for _ in range(3)])
    db.session.commit()
    trend = {t.period.key: t.estimate for t in board().trend}
    assert list(trend) == ["2024-04", "2024-05"] and trend["2024-04"].n == 3


def test_the_desk_page_keeps_each_sealed_period_within_its_own_agency(org):
    """A desk's estimate depends on the agency it is shown in (its interval shrinks
    towards that agency's other desks, its label names the agency): kept per agency."""
    fill(org)
    org.create_agency(db.session, "MPP", "Mal Pelayanan Publik")
    org.create_agency(db.session, "KEC-B", "Kecamatan B", parent_code="MPP")
    other = org.create_desk(db.session, "KEC-B", "L1", "Loket B1")
    get_agency(db.session, "KEC-A").parent = get_agency(db.session, "MPP")
    db.session.commit()
    record_responses(db.session, [NewResponse(
        desk_id=other.id, answers={f"U{i}": 1 + (i + k) % 4 for i in range(1, 10)},
        submitted_at=MAY, channel="qr") for k in range(20)])
    db.session.commit()
    close(MAY_KEY)
    l1 = desk("L1", "KEC-A").id
    pages = {}
    for _ in range(2):  # computed, then kept: the same either way
        for code in ("KEC-A", "MPP"):
            page = dashboard.build_desk(db.session, get_agency(db.session, code), l1,
                                        parse_period(MAY_KEY))
            assert pages.setdefault(code, page.estimate) == page.estimate
    assert pages["KEC-A"].n == pages["MPP"].n
    # each page shows the desk within its own agency, never the other page's kept one
    assert (pages["KEC-A"].agency, pages["KEC-A"].desk) == ("KEC-A", "L1")
    assert (pages["MPP"].agency, pages["MPP"].desk) == ("MPP", "KEC-A/L1")


def test_a_period_reaching_before_the_first_response_is_kept_until_one_arrives_there(org):
    """Only the part of a period from the first month with any response must be sealed:
    15 April to 31 May is kept while nothing precedes May; a late paper response of 20
    April (an open day) moves that month and is counted at once."""
    fill(org)
    close("2024-05")
    key = "2024-04-15..2024-05-31"
    first = board(key)
    hits = cache.FIGURES.hits
    assert board(key).estimate == first.estimate and cache.FIGURES.hits == hits + 1
    record_responses(db.session, [NewResponse(
        desk_id=desk("L2").id, answers={f"U{i}": 2 for i in range(1, 10)},
        submitted_at=datetime(2024, 4, 20, 3, tzinfo=UTC), channel="paper")])
    db.session.commit()
    after = board(key)
    assert after.estimate.n == first.estimate.n + 1
    assert shown(after) == shown(fresh(key))
