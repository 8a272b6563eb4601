"""Which database each page reads when DATABASE_READ_URL names a read replica
(survey/web/replica.py), on SQLite and on PostgreSQL, without a real replica: the
"replica" here is the test database under a second URL, so it has a second, read-only
engine, and the statements each engine runs say which page read where. The SQLite run also
keeps a stale copy in a second file to show a page serving the copy's older figures.
tests/test_read_replica.py does the same against a real PostgreSQL streaming replica."""

from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError
from support.app import database_url_for_tests
from support.factories import MAY, MPP_CODE, fill
from support.web import answers, csrf_from, open_form, service_id

from survey.core import replica as core_replica
from survey.core.db import db, utcnow
from survey.core.models import Agency, Desk, FollowUp, ReportingPeriod, Response
from survey.core.org.users import create_api_token, get_user
from survey.core.responses import NewResponse, record_responses
from survey.web import replica
from survey.web.replica import EXTENSION, MARK

PERIOD = "2024-05"
UNREACHABLE = "sqlite:////nonexistent-survey-replica/replica.sqlite"
STALE_COPY = "stale copy"  # a second SQLite file, copied from the primary by the test


@pytest.fixture
def app_config(request, tmp_path: Path):
    """The replica: the test database under a second URL (default), an unreachable one,
    or a second SQLite file (STALE_COPY)."""
    url = getattr(request, "param", None) or database_url_for_tests(tmp_path)
    if url == STALE_COPY:
        url = f"sqlite:///{tmp_path / 'replica.sqlite'}"
    return {"DATABASE_READ_URL": url, "SURVEY_MIN_FILL_SECONDS": 0}


class Seen:
    """The statements each engine ran since the last `clear()`."""

    def __init__(self) -> None:
        self.primary: list[str] = []
        self.replica: list[str] = []

    def clear(self) -> None:
        self.primary.clear()
        self.replica.clear()

    @staticmethod
    def figures(statements: list[str]) -> list[str]:
        """Statements that read response figures (the rollups or the responses)."""
        return [s for s in statements
                if re.search(r"\b(stats_rollup|count_rollup|response)\b", s)]


@pytest.fixture
def seen(app):
    statements = Seen()
    with app.app_context():
        primary = db.engine
    replica_engine = app.extensions[EXTENSION].engine

    def on_primary(_conn, _cursor, statement, *_args):
        statements.primary.append(statement)

    def on_replica(_conn, _cursor, statement, *_args):
        statements.replica.append(statement)

    event.listen(primary, "before_cursor_execute", on_primary)
    event.listen(replica_engine, "before_cursor_execute", on_replica)
    yield statements
    event.remove(primary, "before_cursor_execute", on_primary)
    event.remove(replica_engine, "before_cursor_execute", on_replica)
    replica.dispose(app)


def forget_own_writes(client) -> None:
    """As if the replica had replayed the visitor's own writes (signing in is one)."""
    with client.session_transaction() as session:
        session.pop(MARK, None)


def close_may() -> None:
    db.session.add(ReportingPeriod(key=PERIOD, closed_at=utcnow()))
    db.session.commit()


def a_desk_of(code: str) -> Desk:
    return db.session.scalars(select(Desk).join(Agency).where(Agency.code == code)
                              .order_by(Desk.id)).first()


def test_staff_figure_pages_read_the_replica_and_check_access_on_the_primary(admin, seen):
    token = create_api_token(db.session, get_user(db.session, "admin@skm.go.id"),
                             "replica", actor=None)
    db.session.commit()
    forget_own_writes(admin)
    desk = a_desk_of("A-DINAS")
    pages = (f"/dashboard/A-DINAS?period={PERIOD}",
             f"/dashboard/{MPP_CODE}?period={PERIOD}",
             f"/dashboard/A-DINAS/loket/{desk.id}?period={PERIOD}",
             f"/dashboard/{MPP_CODE}/liga?period={PERIOD}",
             f"/dashboard/{MPP_CODE}/liga.csv?period={PERIOD}",
             f"/dashboard/{MPP_CODE}/rapat.pdf?period={PERIOD}")
    for url in pages:
        seen.clear()
        page = admin.get(url)
        assert page.status_code == 200, url
        assert seen.figures(seen.replica), f"{url} read no figures from the replica"
        assert not seen.figures(seen.primary), f"{url} read figures from the primary"
        assert seen.primary, f"{url}: who may see it is checked on the primary"
    seen.clear()
    api = admin.application.test_client().get(
        f"/api/v1/agencies/A-DINAS/results?period={PERIOD}",
        headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200 and api.get_json()["results"][0]["ikm_converted"]
    assert seen.figures(seen.replica) and not seen.figures(seen.primary)


def test_public_pages_read_only_the_replica(admin, seen, app):
    close_may()
    client = app.test_client()  # a visitor, not signed in
    for url in ("/publik/A-DINAS", "/publik/A-DINAS/badge.svg",
                f"/publik/A-DINAS/infografik.svg?period={PERIOD}"):
        seen.clear()
        page = client.get(url)
        assert page.status_code == 200, url
        assert seen.figures(seen.replica), url
        assert seen.primary == [], f"{url} sent to the primary: {seen.primary}"


def test_writes_and_the_pages_around_them_stay_on_the_primary(org, manager, seen, app):
    fill(org)
    forget_own_writes(manager)
    # The follow-up plan: where plans are edited, and where saving one leads.
    seen.clear()
    page = manager.get(f"/dashboard/KEC-A/rtl?period={PERIOD}")
    assert page.status_code == 200 and not seen.replica
    saved = manager.post(f"/dashboard/KEC-A/rtl?period={PERIOD}", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "element_code": "U3",
        "action": "Tambah petugas loket", "owner": "Kepala Seksi", "due_date": "2024-08-31",
        "status": "in_progress", "evidence": ""})
    assert saved.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(FollowUp)) == 1
    assert not seen.replica, "a staff action sent something to the replica"
    # The review queues: where decisions are made.
    seen.clear()
    assert manager.get("/dashboard/KEC-A/antrean/flag").status_code == 200
    assert not seen.replica
    # A citizen's form and submit.
    client = app.test_client()
    seen.clear()
    before = db.session.scalar(select(func.count()).select_from(Response))
    url = f"/s/{a_desk_of('KEC-A').slug}"
    html, hidden = open_form(client, url)
    sent = client.post(url, data={**hidden, **answers(4), "service": service_id(html)})
    assert sent.status_code == 303
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Response)) == before + 1
    assert not seen.replica, "the citizen's path touched the replica"


def test_a_staff_members_own_write_is_read_from_the_primary_until_replayed(
        org, manager, seen, app):
    fill(org)
    page = manager.get(f"/dashboard/KEC-A/rtl?period={PERIOD}").get_data(as_text=True)
    manager.post(f"/dashboard/KEC-A/rtl?period={PERIOD}", data={
        "csrf_token": csrf_from(page), "element_code": "U3", "action": "Tambah petugas",
        "owner": "Kepala Seksi", "due_date": "2024-08-31", "status": "in_progress",
        "evidence": ""})
    with manager.session_transaction() as session:
        mark = session[MARK]  # the POST left where the primary stood
    postgres = db.engine.dialect.name == "postgresql"
    assert (mark["lsn"] is not None) == postgres
    # Not replayed yet: a WAL position beyond the primary's, or (no positions on SQLite)
    # a write within READ_REPLICA_MAX_LAG_SECONDS.
    with manager.session_transaction() as session:
        session[MARK] = {"lsn": "FFFFFFFF/0", "at": mark["at"]} if postgres else mark
    seen.clear()
    board = manager.get(f"/dashboard/KEC-A?period={PERIOD}")
    assert board.status_code == 200 and "Tambah petugas" in board.get_data(as_text=True)
    assert seen.figures(seen.primary) and not seen.figures(seen.replica)
    with manager.session_transaction() as session:
        assert MARK in session  # still waiting
        session[MARK] = ({"lsn": mark["lsn"], "at": mark["at"]} if postgres
                         else {"lsn": None, "at": mark["at"] - 3600})
    # Replayed (or the bound has passed): the replica again, and the mark is dropped.
    seen.clear()
    board = manager.get(f"/dashboard/KEC-A?period={PERIOD}")
    assert board.status_code == 200 and "Tambah petugas" in board.get_data(as_text=True)
    assert seen.figures(seen.replica) and not seen.figures(seen.primary)
    with manager.session_transaction() as session:
        assert MARK not in session


@pytest.mark.parametrize("app_config", [UNREACHABLE], indirect=True)
def test_an_unreachable_replica_falls_back_to_the_primary_with_a_log_line(
        org, manager, seen, app, caplog):
    fill(org)
    forget_own_writes(manager)
    caplog.set_level(logging.WARNING, logger=app.logger.name)
    seen.clear()
    page = manager.get(f"/dashboard/KEC-A?period={PERIOD}")
    assert page.status_code == 200 and "Responden" in page.get_data(as_text=True)
    assert seen.figures(seen.primary)
    warnings = [r.getMessage() for r in caplog.records if "read replica" in r.getMessage()]
    assert len(warnings) == 1 and "unreachable" in warnings[0], warnings
    # Within READ_REPLICA_RETRY_SECONDS the replica is not tried again (no new line) ...
    assert manager.get(f"/dashboard/KEC-A?period={PERIOD}").status_code == 200
    assert len([r for r in caplog.records if "read replica" in r.getMessage()]) == 1
    # ... after it, it is (and still unreachable, logged again).
    app.extensions[EXTENSION].down_until = 0.0
    assert manager.get(f"/dashboard/KEC-A?period={PERIOD}").status_code == 200
    assert len([r for r in caplog.records if "read replica" in r.getMessage()]) == 2


@pytest.mark.parametrize("app_config", [STALE_COPY], indirect=True)
def test_a_page_served_by_a_stale_copy_shows_the_copys_figures(
        org, manager, seen, app, tmp_path):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("copies a SQLite file; tests/test_read_replica.py pauses a real "
                    "PostgreSQL replica instead")
    fill(org)
    forget_own_writes(manager)
    db.session.commit()
    source = sqlite3.connect(db.engine.url.database)
    target = sqlite3.connect(tmp_path / "replica.sqlite")
    source.backup(target)  # the replica, as of now
    source.close()
    target.close()

    def respondents() -> str:
        page = manager.get(f"/dashboard/KEC-A?period={PERIOD}").get_data(as_text=True)
        return re.search(r"Responden (\d+)", re.sub(r"\s+", " ",
                                                   re.sub(r"<[^>]+>", " ", page))).group(1)

    shown = respondents()
    # A citizen answers (on the primary: the copy refuses writes and is not asked).
    client = app.test_client()
    seen.clear()
    desk = a_desk_of("KEC-A")
    html, hidden = open_form(client, f"/s/{desk.slug}")
    sent = client.post(f"/s/{desk.slug}", data={**hidden, **answers(4),
                                                "service": service_id(html)})
    assert sent.status_code == 303 and not seen.replica
    # The May figures are unchanged (today's answer is not in May) but the copy's own
    # response count is behind the primary's: the page read the copy.
    db.session.expire_all()
    primary_count = db.session.scalar(select(func.count()).select_from(Response))
    copy = sqlite3.connect(tmp_path / "replica.sqlite")
    copy_count = copy.execute("SELECT count(*) FROM response").fetchone()[0]
    copy.close()
    assert (copy_count, primary_count) == (80, 81)
    # A late May answer entered on the primary does not show until the copy has it.
    record_responses(db.session, [NewResponse(
        desk_id=desk.id, answers={f"U{i}": 4 for i in range(1, 10)}, submitted_at=MAY,
        channel="qr", service_id=desk.services[0].id)])
    db.session.commit()
    assert respondents() == shown
    source = sqlite3.connect(db.engine.url.database)
    target = sqlite3.connect(tmp_path / "replica.sqlite")
    source.backup(target)  # the copy catches up
    source.close()
    target.close()
    assert int(respondents()) == int(shown) + 1


def test_the_replicas_connections_refuse_writes(app):
    with app.app_context():
        url = db.engine.url
    engine = core_replica.make_engine(url.render_as_string(hide_password=False))
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT count(*) FROM agency"))  # reads work
            with pytest.raises(DBAPIError):
                conn.execute(text("CREATE TABLE replica_probe (x integer)"))
    finally:
        engine.dispose()


def test_without_a_replica_url_every_page_reads_the_primary(tmp_path):
    from support.app import drop_everything, make_app

    application = make_app(tmp_path)
    try:
        assert EXTENSION not in application.extensions
        with application.test_request_context("/"):
            assert replica.reads() is db.session()
    finally:
        drop_everything(application)

