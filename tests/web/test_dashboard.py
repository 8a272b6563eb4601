"""The agency dashboard, review and moderation queues, the follow-up plan, the public
results page and the badge."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from support.factories import desk, fill, make_user
from support.web import csrf_from, forget_request_state, login

from survey.core.db import db, utcnow
from survey.core.models import (
    Agency,
    AuditEvent,
    ChainEntry,
    FollowUp,
    ReportingPeriod,
    Response,
    ReviewDecision,
    StatsRollup,
)
from survey.ikm.standards import display_decimal

MAY = datetime(2024, 5, 14, 3, tzinfo=UTC)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def report(runner, agency="KEC-A", period="2024-05"):
    out = runner.invoke(args=["ikm", "report", "--agency", agency, "--period", period,
                              "--format", "json"])
    assert out.exit_code == 0, out.output
    return {r["desk"]: r for r in json.loads(out.output)["results"]}


def id_format(value: float, places: int = 2) -> str:
    return str(display_decimal(value, places)).replace(".", ",")


def test_dashboard_numbers_equal_flask_ikm_report(org, manager, runner):
    fill(org)
    page = manager.get("/dashboard/KEC-A?period=2024-05")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    rows = report(runner)
    agency = rows[None]
    headline = re.search(r'<p class="value">([^<]+)</p>', html).group(1)
    assert headline == id_format(agency["ikm_converted"])  # Indonesian format: 78,17
    assert f"{id_format(agency['ci'][0])} – {id_format(agency['ci'][1])}" in html
    assert f"Responden {agency['n']}" in text_of(html)  # the respondents card
    for element in agency["elements"]:
        assert id_format(element["nrr_converted"]) in html
    for key in ("L1", "L2"):
        assert id_format(rows[key]["ikm_converted"]) in html
    # the three weakest elements are marked as candidates for the follow-up plan
    weakest = sorted(agency["elements"], key=lambda e: e["nrr"])[:3]
    for element in weakest:
        assert f"▼ {element['code']}" in html


def test_dashboard_in_english_uses_english_number_format(org, manager, runner):
    fill(org)
    manager.get("/bahasa/en")
    html = manager.get("/dashboard/KEC-A?period=2024-05").get_data(as_text=True)
    agency = report(runner)[None]
    headline = re.search(r'<p class="value">([^<]+)</p>', html).group(1)
    assert headline == str(display_decimal(agency["ikm_converted"]))
    assert "Satisfaction index (IKM)" in html


def test_dashboard_sections(org, manager):
    fill(org)
    org.set_volume(db.session, desk("L2"), "month", date(2024, 5, 1), 200)
    db.session.commit()
    html = manager.get("/dashboard/KEC-A?period=2024-05").get_data(as_text=True)
    for anchor in ("headline", "counts", "elements", "desks", "services", "trend",
                   "arrivals", "profile", "rtl", "comments"):
        assert f'id="{anchor}"' in html
    assert html.count("<svg") >= 5  # charts served inline, no external scripts
    assert "<script" not in html.split("</header>")[1]
    assert "Krejcie-Morgan" in html
    assert "Selasa" in html or "Sel" in html  # weekday rows of the heatmap


def test_dashboard_period_errors_and_other_agencies(org, client):
    org.create_agency(db.session, "KEC-B", "B")
    db.session.commit()
    make_user(org, "b@kec-b.go.id", "agency_manager", ["KEC-B"])
    login(client, "b@kec-b.go.id")
    assert client.get("/dashboard/KEC-B?period=2024-S3").status_code == 400
    assert client.get("/dashboard/KEC-A?period=2024").status_code == 404
    assert client.get(f"/dashboard/KEC-A/loket/{desk().id}").status_code == 404
    assert client.get(f"/dashboard/KEC-B/loket/{desk().id}").status_code == 404
    assert client.get("/dashboard/KEC-A/antrean/flag").status_code == 404


def test_desk_drill_down(org, manager, runner):
    fill(org)
    page = manager.get(f"/dashboard/KEC-A/loket/{desk('L2').id}?period=2024-05")
    assert page.status_code == 200
    assert id_format(report(runner)["L2"]["ikm_converted"]) in page.get_data(as_text=True)


def _response_snapshot(response_id: int) -> dict:
    db.session.expire_all()
    r = db.session.get(Response, response_id)
    return {**{c.name: getattr(r, c.name) for c in Response.__table__.columns},
            "answers": sorted((a.element_id, a.score) for a in r.answers)}


def test_releasing_a_flagged_response_is_logged_and_changes_only_the_index(org, manager):
    fill(org)
    page = text_of(manager.get("/dashboard/KEC-A?period=2024-05").get_data(True))
    assert "6 menunggu peninjauan" in page and "2 komentar menunggu moderasi" in page
    queue = manager.get("/dashboard/KEC-A/antrean/flag?period=2024-05").get_data(True)
    flagged_id = int(re.search(r'/dashboard/KEC-A/tinjau/(\d+)', queue).group(1))
    before = _response_snapshot(flagged_id)
    clean_before = db.session.scalar(select(func.sum(StatsRollup.n)).where(
        StatsRollup.scope == "clean", StatsRollup.grain == "M"))
    chain_before = db.session.scalar(select(func.count()).select_from(ChainEntry))
    forget_request_state()
    done = manager.post(f"/dashboard/KEC-A/tinjau/{flagged_id}",
                        data={"csrf_token": csrf_from(queue), "decision": "release",
                              "reason": "Satu keluarga, dua kunjungan"})
    assert done.status_code == 303
    assert _response_snapshot(flagged_id) == before  # the response never changes
    decision = db.session.scalar(select(ReviewDecision))
    assert (decision.kind, decision.decision, decision.reason) == (
        "flag", "release", "Satu keluarga, dua kunjungan")
    assert db.session.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc())
                             ) == "review_release"
    # the decision and its audit event both extend the chain
    assert db.session.scalar(select(func.count()).select_from(ChainEntry)) == chain_before + 2
    assert db.session.scalar(select(func.sum(StatsRollup.n)).where(
        StatsRollup.scope == "clean", StatsRollup.grain == "M")) == clean_before + 1
    page = text_of(manager.get("/dashboard/KEC-A?period=2024-05").get_data(True))
    assert "5 menunggu peninjauan" in page


def test_a_decision_needs_a_reason(org, manager):
    fill(org)
    queue = manager.get("/dashboard/KEC-A/antrean/flag?period=2024-05").get_data(True)
    flagged_id = int(re.search(r'/dashboard/KEC-A/tinjau/(\d+)', queue).group(1))
    forget_request_state()
    manager.post(f"/dashboard/KEC-A/tinjau/{flagged_id}",
                 data={"csrf_token": csrf_from(queue), "decision": "release", "reason": " "})
    assert db.session.scalar(select(func.count()).select_from(ReviewDecision)) == 0


def test_comment_moderation_publishes_to_the_public_page(org, manager, client):
    fill(org, comments=("Ruang tunggu nyaman sekali",))
    db.session.add(ReportingPeriod(key="2024-05", closed_at=utcnow()))
    db.session.commit()
    public = client.get("/publik/KEC-A").get_data(as_text=True)
    assert "Ruang tunggu nyaman sekali" not in public  # not before moderation
    queue = manager.get("/dashboard/KEC-A/antrean/comment?period=2024-05").get_data(True)
    rid = int(re.search(r'/dashboard/KEC-A/komentar/(\d+)', queue).group(1))
    before = _response_snapshot(rid)
    forget_request_state()
    manager.post(f"/dashboard/KEC-A/komentar/{rid}", data={
        "csrf_token": csrf_from(queue), "decision": "publish", "reason": "sopan"})
    assert _response_snapshot(rid) == before
    assert "Ruang tunggu nyaman sekali" in client.get("/publik/KEC-A").get_data(as_text=True)
    forget_request_state()
    manager.post(f"/dashboard/KEC-A/komentar/{rid}", data={
        "csrf_token": csrf_from(queue), "decision": "hide", "reason": "salah loket"})
    assert "Ruang tunggu nyaman sekali" not in client.get("/publik/KEC-A").get_data(True)
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["comment_publish", "comment_hide"]


def test_auditor_reads_but_cannot_decide(org, client):
    fill(org)
    make_user(org, "aud@bpk.go.id", "auditor")
    login(client, "aud@bpk.go.id")
    queue = client.get("/dashboard/KEC-A/antrean/flag?period=2024-05")
    assert queue.status_code == 200 and "tinjau" not in queue.get_data(as_text=True)
    rid = db.session.scalar(select(Response.id).where(Response.flags != ""))
    forget_request_state()
    page = client.get("/dashboard/KEC-A?period=2024-05").get_data(as_text=True)
    assert client.post(f"/dashboard/KEC-A/tinjau/{rid}", data={
        "csrf_token": csrf_from(page), "decision": "release", "reason": "x"}
    ).status_code == 403


def test_follow_up_plan_on_dashboard_and_public_page(org, manager, client):
    fill(org)
    page = manager.get("/dashboard/KEC-A/rtl?period=2024-05").get_data(as_text=True)
    forget_request_state()
    saved = manager.post("/dashboard/KEC-A/rtl?period=2024-05", data={
        "csrf_token": csrf_from(page), "element_code": "U3",
        "action": "Tambah petugas loket pada jam sibuk", "owner": "Kepala Seksi Pelayanan",
        "due_date": "2024-08-31", "status": "in_progress", "evidence": ""})
    assert saved.status_code == 303
    item = db.session.scalar(select(FollowUp))
    assert (item.element_code, item.status, item.due_date) == ("U3", "in_progress",
                                                               date(2024, 8, 31))
    board = manager.get("/dashboard/KEC-A?period=2024-05").get_data(as_text=True)
    assert "Tambah petugas loket pada jam sibuk" in board
    db.session.add(ReportingPeriod(key="2024-05", closed_at=utcnow()))
    db.session.commit()
    assert "Tambah petugas loket pada jam sibuk" in client.get("/publik/KEC-A").get_data(True)
    # invalid input stores nothing new
    forget_request_state()
    manager.post("/dashboard/KEC-A/rtl?period=2024-05", data={
        "csrf_token": csrf_from(page), "element_code": "U42", "action": "x", "owner": "y"})
    manager.post("/dashboard/KEC-A/rtl?period=2024-05", data={
        "csrf_token": csrf_from(page), "element_code": "U1", "action": "", "owner": "y"})
    assert db.session.scalar(select(func.count()).select_from(FollowUp)) == 1


def test_follow_up_of_another_agency_is_404(org, client):
    fill(org)
    org.create_agency(db.session, "KEC-B", "B")
    db.session.add(FollowUp(agency_id=desk().agency_id, period="2024-05", element_code="U1",
                            action="a", owner="o"))
    db.session.commit()
    item = db.session.scalar(select(FollowUp))
    make_user(org, "b@kec-b.go.id", "agency_manager", ["KEC-B"])
    login(client, "b@kec-b.go.id")
    page = client.get("/dashboard/KEC-B/rtl?period=2024-05").get_data(as_text=True)
    forget_request_state()
    response = client.post("/dashboard/KEC-B/rtl?period=2024-05", data={
        "csrf_token": csrf_from(page), "id": item.id, "element_code": "U1", "action": "hijack",
        "owner": "x"})
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(FollowUp, item.id).action == "a"


def test_public_page_shows_the_latest_closed_period_only(org, client, runner):
    fill(org)
    assert "Belum ada hasil" in client.get("/publik/KEC-A").get_data(as_text=True)
    db.session.add_all([ReportingPeriod(key="2024-05", closed_at=utcnow()),
                        ReportingPeriod(key="2024-06")])  # June is not closed
    db.session.commit()
    html = client.get("/publik/KEC-A").get_data(as_text=True)
    agency = report(runner)[None]
    assert "Mei 2024" in html and id_format(agency["ikm_converted"]) in html
    assert client.get("/publik/NOPE").status_code == 404
    badge = client.get("/publik/KEC-A/badge.svg")
    assert badge.mimetype == "image/svg+xml"
    assert f"IKM {id_format(agency['ikm_converted'])}" in badge.get_data(as_text=True)
    assert "public" in badge.headers["Cache-Control"]
    # The infographic of the period shown, linked in every format (tests/web/
    # test_infographic.py checks what they show).
    for link, mimetype in (("infografik.png?period=2024-05", "image/png"),
                           ("infografik.png?period=2024-05&amp;format=square", "image/png"),
                           ("infografik.svg?period=2024-05", "image/svg+xml"),
                           ("infografik.pdf?period=2024-05", "application/pdf")):
        assert f'href="/publik/KEC-A/{link}"' in html, link
        image = client.get(f"/publik/KEC-A/{link.replace('&amp;', '&')}")
        assert image.status_code == 200 and image.mimetype == mimetype, link
    assert "Infografik:" in html


def test_the_first_possible_period_has_no_trend_before_it(org, manager):
    page = manager.get("/dashboard/KEC-A?period=0001-S1")
    assert page.status_code == 200
    assert manager.get(f"/dashboard/KEC-A/loket/{desk().id}?period=0001").status_code == 200
    assert manager.get("/dashboard/KEC-A?period=0000").status_code == 400


def test_pending_flag_count_reads_only_the_flagged_index(org):
    """The queue counts on the dashboard must not read every response of the period (a
    year of a busy agency is half a million rows): SQLite's planner must pick the partial
    index, with the statement's real bound parameters, over ix_response_desk_day."""
    from survey.core.review import pending_count_query

    if db.engine.dialect.name != "sqlite":
        pytest.skip("the plan is checked on SQLite, whose planner is deterministic here")
    fill(org)
    desks = [desk("L1").id, desk("L2").id]
    query = pending_count_query("flag", desks, date(2024, 5, 1), date(2024, 5, 31))
    compiled = query.compile(db.engine, compile_kwargs={"render_postcompile": True})
    params = tuple(v.isoformat() if isinstance(v, date) else v
                   for v in (compiled.params[name] for name in compiled.positiontup))
    plan = " ".join(str(row[-1]) for row in db.session.connection().exec_driver_sql(
        "EXPLAIN QUERY PLAN " + str(compiled), params))
    assert "COVERING INDEX ix_response_flagged" in plan, plan
    assert db.session.scalar(query) == 6
    assert db.session.scalar(pending_count_query(
        "comment", desks, date(2024, 5, 1), date(2024, 5, 31))) == 2


def test_dashboard_all_and_verified_variants_equal_the_engine_on_those_scopes(org):
    """The dashboard derives "all responses" from the clean and flagged statistics it has
    already read; it must equal the engine run on the "all" scope read afresh."""
    from survey.core.periods import parse_period
    from survey.core.results import dashboard as services
    from survey.core.results import queries

    fill(org, flagged=7)
    agency = db.session.scalar(select(Agency).where(Agency.code == "KEC-A"))
    period = parse_period("2024-05")
    board = services.build(db.session, agency, period)
    scope = queries.agency_scope(db.session, agency)
    for scope_name, shown in (("all", board.everything), ("verified", board.verified),
                              ("clean", board.estimate)):
        expected = queries.compute_groups(db.session, [scope], period, scope_name).get("KEC-A")
        expected = expected.estimate if expected else None
        assert shown == expected, scope_name
    assert board.everything.n == board.estimate.n + board.n_flagged == 80
