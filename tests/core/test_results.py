"""Results from the database: rollups kept in the submit transaction equal a rebuild and
the raw rows; populations from ServiceVolume; `flask ikm report` equals `ikm compute`."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select
from support.checks import assert_same_results

from survey.core.db import db, write_transaction
from survey.core.models import Desk, ReviewDecision, Service, StatsRollup
from survey.core.periods import parse_period
from survey.core.responses import NewResponse, record_responses
from survey.core.results import queries, raw
from survey.ikm.cli import main as ikm_main


def seed_responses(org, seed=7, per_desk=(120, 45), start=date(2024, 4, 20), days=70):
    """Random responses over two desks, with blanks, flags, services and verification."""
    rng = np.random.default_rng(seed)
    from survey.core.models import Agency

    desks = db.session.scalars(select(Desk).join(Agency).where(Agency.code == "KEC-A")
                               .order_by(Desk.code)).all()
    service = db.session.scalar(select(Service).where(Service.code == "KTP"))
    items = []
    for desk, count in zip(desks, per_desk, strict=True):
        base = 2.6 + rng.random(9)
        for _ in range(count):
            scores = np.clip(np.rint(base + rng.normal(0, 0.6, 9)), 1, 4).astype(int)
            answers = {f"U{j + 1}": int(s) for j, s in enumerate(scores) if rng.random() > 0.05}
            when = datetime.combine(start, datetime.min.time(), UTC) + timedelta(
                days=int(rng.integers(days)), hours=int(rng.integers(1, 9)))
            channel = str(rng.choice(["qr", "ticket", "paper"], p=[0.7, 0.2, 0.1]))
            items.append(NewResponse(
                desk_id=desk.id, answers=answers, submitted_at=when, channel=channel,
                verified=channel == "ticket", service_id=service.id if rng.random() < 0.6
                else None, flags=("too_fast",) if channel == "qr" and rng.random() < 0.1
                else ()))
    record_responses(db.session, items)
    db.session.commit()
    return items


def _rollup_table() -> dict:
    return {(r.desk_id, r.scope, r.grain, r.period_start, r.questionnaire_id, r.service_id):
            (r.n, bytes(r.stats)) for r in db.session.scalars(select(StatsRollup))}


def test_live_rollups_equal_a_rebuild(org):
    seed_responses(org)
    live = _rollup_table()
    assert live and {k[1] for k in live} == {"clean", "flagged", "verified", "service"}
    with write_transaction(db.session):
        raw.rebuild_rollups(db.session)
    assert _rollup_table() == live
    assert not raw.missing_rollups(db.session)


def test_rebuild_command_restores_deleted_rollups(app, org, runner):
    seed_responses(org)
    live = _rollup_table()
    db.session.execute(StatsRollup.__table__.delete())
    db.session.commit()
    assert raw.missing_rollups(db.session)
    result = runner.invoke(args=["ikm", "rebuild-rollups"])
    assert result.exit_code == 0 and "Rebuilt rollups" in result.output
    db.session.expire_all()
    assert _rollup_table() == live


@pytest.mark.parametrize("period", ["2024-05", "2024-Q2", "2024-S1", "2024",
                                    "2024-04-25..2024-06-07", "2024-06-30..2024-06-30"])
@pytest.mark.parametrize("scope", ["clean", "all", "verified", "flagged"])
def test_rollup_statistics_equal_raw_rows(org, period, scope):
    seed_responses(org)
    p = parse_period(period)
    ids = [d.id for d in db.session.scalars(select(Desk))]
    assert queries.desk_statistics(db.session, ids, p.start, p.end, scope) == \
        raw.raw_desk_statistics(db.session, ids, p.start, p.end, scope)


@pytest.mark.parametrize("periods", [
    ["2024-04", "2024-05", "2024-06"],
    ["2024-04-25..2024-05-09", "2024-05-10..2024-06-02", "2024-Q3"],  # part months
    ["2024-06", "2023-06"],  # a trend point and the year before
])
@pytest.mark.parametrize("scope", ["clean", "verified"])
def test_statistics_of_several_periods_in_one_read_equal_each_period_read_alone(
        org, periods, scope):
    """The dashboard's trend reads its earlier periods together: each period gets what
    reading it alone gives, whole months and days alike."""
    seed_responses(org)
    ids = [d.id for d in db.session.scalars(select(Desk))]
    ps = [parse_period(k) for k in periods]
    together = queries.desk_statistics_by_period(db.session, ids, ps, scope)
    alone = [queries.desk_statistics(db.session, ids, p.start, p.end, scope) for p in ps]
    assert together == alone
    assert any(together)
    with pytest.raises(ValueError):
        queries.desk_statistics_by_period(db.session, ids, [ps[0], ps[0]], scope)


def test_clean_excludes_flagged_and_a_release_brings_it_back(org):
    seed_responses(org)
    p = parse_period("2024")
    ids = [d.id for d in db.session.scalars(select(Desk))]
    clean = queries.desk_statistics(db.session, ids, p.start, p.end, "clean")
    flagged = queries.desk_statistics(db.session, ids, p.start, p.end, "flagged")
    every = queries.desk_statistics(db.session, ids, p.start, p.end, "all")
    for key in every:
        assert every[key] == clean[key] + flagged.get(key, clean[key].zeros(9))
    assert sum(s.n for s in flagged.values()) > 0
    # A review decision releases one flagged response: the raw computation follows it.
    from survey.core.models import Response

    victim = db.session.scalar(select(Response).where(Response.flags != "").limit(1))
    db.session.add(ReviewDecision(response_id=victim.id, kind="flag", decision="release",
                                  reason="same family, different visits"))
    db.session.commit()
    from_rows = raw.raw_desk_statistics(db.session, ids, p.start, p.end, "clean")
    key = (victim.desk_id, victim.questionnaire_id)
    assert from_rows[key].n == clean[key].n + 1


def test_populations_monthly_daily_prorated_and_unknown(org):
    from support.factories import ORG as s

    l1 = db.session.scalar(select(Desk).where(Desk.code == "L1"))
    l2 = db.session.scalar(select(Desk).where(Desk.code == "L2"))
    s.set_volume(db.session, l1, "month", date(2024, 6, 1), 300)   # May is 450 (fixture)
    s.set_volume(db.session, l2, "day", date(2024, 5, 2), 10)
    s.set_volume(db.session, l2, "day", date(2024, 5, 3), 12)
    db.session.commit()

    def pops(key):
        p = parse_period(key)
        return queries.populations(db.session, [l1.id, l2.id], p.start, p.end)

    assert pops("2024-05") == {l1.id: 450, l2.id: 22}
    assert pops("2024-05..2024-06") == {l1.id: 750, l2.id: None}  # L2 has no June figure
    # 10 of 31 days of May: 450 * 10 / 31 = 145.16 -> 145; L2's daily figures in range
    assert pops("2024-05-01..2024-05-10") == {l1.id: 145, l2.id: 22}
    assert pops("2024-05-03..2024-05-03") == {l1.id: 15, l2.id: 12}
    assert pops("2024-07") == {l1.id: None, l2.id: None}


def export_csv(path, agency_code: str, period) -> None:
    """The canonical columns `ikm compute` reads, written straight from the database."""
    from survey.core.models import Agency, Answer, Element, Response

    rows = db.session.execute(
        select(Response.id, Desk.code, Element.code, Answer.score)
        .join(Desk, Desk.id == Response.desk_id).join(Agency, Agency.id == Desk.agency_id)
        .join(Answer, Answer.response_id == Response.id, isouter=True)
        .join(Element, Element.id == Answer.element_id, isouter=True)
        .where(Agency.code == agency_code, Response.day.between(period.start, period.end),
               Response.flags == "")
    ).all()
    responses: dict[int, dict] = {}
    for rid, desk, element, score in rows:
        responses.setdefault(rid, {"desk": desk})
        if element:
            responses[rid][element] = score
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["response_id", "agency", "desk", *[f"U{i}" for i in range(1, 10)],
                      "comment"])
        for rid, r in sorted(responses.items()):
            out.writerow([rid, agency_code, r["desk"],
                          *[r.get(f"U{i}", "") for i in range(1, 10)], "ok, thanks"])


@pytest.mark.parametrize("with_populations", [True, False])
def test_flask_ikm_report_equals_ikm_compute(app, org, runner, tmp_path, capsys,
                                             with_populations):
    seed_responses(org)
    if with_populations:
        l2 = db.session.scalar(select(Desk).where(Desk.code == "L2"))
        org.set_volume(db.session, l2, "month", date(2024, 5, 1), 130)
        db.session.commit()
    period = parse_period("2024-05")
    export_csv(tmp_path / "responses.csv", "KEC-A", period)
    pop = "agency,desk,population\nKEC-A,L1,450\n"  # the fixture's May volume of L1
    if with_populations:
        pop += "KEC-A,L2,130\n"
    (tmp_path / "pop.csv").write_text(pop)
    args = ["compute", str(tmp_path / "responses.csv"), "--format", "json", "--populations",
            str(tmp_path / "pop.csv")]
    capsys.readouterr()
    assert ikm_main(args) == 0
    computed = json.loads(capsys.readouterr().out)
    result = runner.invoke(args=["ikm", "report", "--agency", "KEC-A", "--period", "2024-05",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    reported = json.loads(result.output)
    assert_same_results(reported, computed)
    assert reported["results"][0]["method"] == ("stratified" if with_populations else "pooled")
    assert len(reported["results"]) == 3


def test_report_table_and_single_desk(app, org, runner):
    seed_responses(org)
    table = runner.invoke(args=["ikm", "report", "--agency", "KEC-A", "--period", "2024-Q2"])
    assert table.exit_code == 0 and "KEC-A" in table.output and "L2" in table.output
    whole = json.loads(runner.invoke(args=["ikm", "report", "--agency", "KEC-A", "--period",
                                           "2024-Q2", "--format", "json"]).output)
    one = json.loads(runner.invoke(args=["ikm", "report", "--agency", "KEC-A", "--desk", "L2",
                                         "--period", "2024-Q2", "--format", "json"]).output)
    assert [r["desk"] for r in one["results"]] == ["L2"]
    assert one["results"][0] == next(r for r in whole["results"] if r["desk"] == "L2")


@pytest.mark.parametrize("args, message", [
    (["--agency", "NOPE", "--period", "2024"], "no agency"),
    (["--agency", "KEC-A", "--period", "2024-S3"], "not understood"),
    (["--agency", "KEC-A", "--desk", "L9", "--period", "2024"], "no desk 'L9'"),
    (["--agency", "KEC-A", "--period", "2024", "--confidence", "1.5"], "confidence"),
    (["--agency", "KEC-A", "--period", "2024", "--weights", "0.2"], "Invalid value"),
])
def test_report_errors(app, org, runner, args, message):
    result = runner.invoke(args=["ikm", "report", *args])
    assert result.exit_code != 0 and message in result.output


def test_parent_agency_aggregates_its_childrens_desks(app, org, runner):
    org.create_agency(db.session, "MPP", "Mal Pelayanan Publik")
    from survey.core.models import Agency

    kec = db.session.scalar(select(Agency).where(Agency.code == "KEC-A"))
    kec.parent = db.session.scalar(select(Agency).where(Agency.code == "MPP"))
    org.create_agency(db.session, "KEC-B", "Kecamatan B", parent_code="MPP")
    org.create_desk(db.session, "KEC-B", "L1", "Loket B1")
    db.session.commit()
    seed_responses(org, per_desk=(60, 30))
    b1 = db.session.scalar(select(Desk).join(Agency).where(Agency.code == "KEC-B"))
    record_responses(db.session, [NewResponse(
        desk_id=b1.id, answers={f"U{i}": 4 for i in range(1, 10)},
        submitted_at=datetime(2024, 5, 10, 3, tzinfo=UTC), channel="qr") for _ in range(12)])
    db.session.commit()
    report = json.loads(runner.invoke(args=["ikm", "report", "--agency", "MPP", "--period",
                                            "2024-05", "--format", "json"]).output)
    rows = {r["desk"]: r for r in report["results"]}
    assert set(rows) == {None, "KEC-A/L1", "KEC-A/L2", "KEC-B/L1"}
    assert rows[None]["n"] == sum(r["n"] for d, r in rows.items() if d)
    assert rows[None]["method"] == "pooled"  # KEC-A/L2 and KEC-B/L1 have no population
    assert rows["KEC-B/L1"]["n"] == 12 and rows["KEC-B/L1"]["ikm_converted"] == pytest.approx(100)


def test_mpp_dashboard_figures_equal_flask_ikm_report_and_compute_groups(app, org, runner):
    """The MPP page reads each period once and estimates its tenants from that read, and
    builds no desk results for the variants, the trend and the tenants: its numbers stay
    those of `flask ikm report` (the MPP, its desks, each tenant) and of compute_groups
    (verified, all responses, every trend point, the year before)."""
    from survey.core.models import Agency
    from survey.core.org.agencies import get_agency
    from survey.core.results import dashboard

    org.create_agency(db.session, "MPP", "Mal Pelayanan Publik")
    kec = db.session.scalar(select(Agency).where(Agency.code == "KEC-A"))
    kec.parent = db.session.scalar(select(Agency).where(Agency.code == "MPP"))
    org.create_agency(db.session, "KEC-B", "Kecamatan B", parent_code="MPP")
    b1 = org.create_desk(db.session, "KEC-B", "L1", "Loket B1")
    org.set_volume(db.session, b1, "month", date(2024, 5, 1), 400)
    db.session.commit()
    seed_responses(org, per_desk=(90, 40), start=date(2023, 4, 1), days=430)
    record_responses(db.session, [NewResponse(
        desk_id=b1.id, answers={f"U{i}": 3 + (i + k) % 2 for i in range(1, 10)},
        submitted_at=datetime(2024, 5, 10, 3, tzinfo=UTC), channel="qr") for k in range(12)])
    db.session.commit()

    def report(code: str, key: str) -> dict:
        out = runner.invoke(args=["ikm", "report", "--agency", code, "--period", key,
                                  "--format", "json"])
        assert out.exit_code == 0, out.output
        return {r["desk"]: r for r in json.loads(out.output)["results"]}

    mpp = get_agency(db.session, "MPP")
    # the trend's earlier periods are read together; a range longer than a year, whose
    # year before overlaps its previous one, reads each alone
    for key in ("2024-05", "2024-Q2", "2024", "2023-06-01..2024-07-31"):
        period = parse_period(key)
        board = dashboard.build(db.session, mpp, period)
        rows = report("MPP", key)
        assert board.estimate.n == rows[None]["n"] > 0
        assert board.estimate.ikm_converted == rows[None]["ikm_converted"]
        assert list(board.estimate.ci) == rows[None]["ci"]
        shown = {r.key: r.estimate for r in board.desks if r.estimate is not None}
        assert shown.keys() == {k for k in rows if k}
        for desk_key, est in shown.items():
            assert est.ikm_converted == rows[desk_key]["ikm_converted"]
            assert list(est.ci) == rows[desk_key]["ci"]
        assert [c.code for c, _ in board.children] == ["KEC-A", "KEC-B"]
        for child, est in board.children:
            own = report(child.code, key)[None]
            assert (est.n, est.ikm_converted, list(est.ci)) == (own["n"], own["ikm_converted"],
                                                               own["ci"])
        scope = board.scope
        for variant, shown_est in (("verified", board.verified), ("all", board.everything)):
            want = queries.compute_groups(db.session, [scope], period, variant)["MPP"].estimate
            assert shown_est == want
        for point in board.trend:
            want = queries.compute_groups(db.session, [scope], point.period)["MPP"].estimate
            assert point.estimate == want
        earlier = queries.compute_groups(db.session, [scope], period.year_earlier())["MPP"]
        assert board.year is not None and board.year.estimate == earlier.estimate
        assert board.year.estimate is not None
