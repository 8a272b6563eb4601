"""The read replica against a real PostgreSQL streaming replica (the README's "A read
replica"): a primary and a hot standby made by initdb and pg_basebackup in a temporary
folder, on free loopback ports, started and stopped by the fixture.

Through the normal application (DATABASE_URL the primary, DATABASE_READ_URL the standby):
the dashboard and the public page served from the standby equal the primary's; with WAL
replay paused the dashboard does not see a new citizen's answer while the submit path
stores it on the primary; a staff member's own action is shown to them at once (read from
the primary) while another reader still gets the standby; beyond the lag bound pages read
the primary; a stopped standby makes pages read the primary, with a log line, and a
started one is used again.

It needs PostgreSQL's server binaries (initdb, pg_ctl, pg_basebackup; Debian's postgresql
package). It runs in CI's PostgreSQL pass (SURVEY_TEST_DATABASE_URL set) or with
SURVEY_REQUIRE_REPLICA=1; with SURVEY_REQUIRE_REPLICA=1 missing binaries are a failure,
not a skip. As root it runs the servers as the `postgres` user."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, func, select, text
from support.app import drop_everything, make_app
from support.factories import ORG, SetupMark, fill, make_user
from support.factories import desk as desk_of
from support.live_server import free_port
from support.web import answers, csrf_from, login, open_form, service_id

from survey.core.db import db, utcnow
from survey.core.models import FollowUp, ReportingPeriod, Response
from survey.core.periods import local_today
from survey.core.seed import seed_standards
from survey.web import replica
from survey.web.replica import EXTENSION

REQUIRED = os.environ.get("SURVEY_REQUIRE_REPLICA") == "1"
TOOLS = ("initdb", "pg_ctl", "pg_basebackup")


def server_binaries() -> Path | None:
    """The newest PostgreSQL server binaries folder (or SURVEY_PG_BINDIR)."""
    chosen = os.environ.get("SURVEY_PG_BINDIR")
    candidates = [Path(chosen)] if chosen else sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    for folder in candidates:
        if all((folder / tool).exists() for tool in TOOLS):
            return folder
    return None


def as_server_user(*command: str | Path) -> list[str]:
    """PostgreSQL refuses to run as root: run it as `postgres` then."""
    args = [str(c) for c in command]
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@dataclass
class Pair:
    bindir: Path
    root: Path
    primary_port: int
    standby_port: int

    def url(self, port: int, database: str = "survey") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{database}"

    @property
    def primary(self) -> str:
        return self.url(self.primary_port)

    @property
    def standby(self) -> str:
        return self.url(self.standby_port)

    def run(self, *command: str | Path) -> None:
        subprocess.run(as_server_user(*command), check=True, capture_output=True,
                       timeout=120, cwd=self.root)

    def start(self, name: str, port: int) -> None:
        self.run(self.bindir / "pg_ctl", "-D", self.root / name, "-l",
                 self.root / f"{name}.log", "-w", "-t", "60", "-o",
                 f"-p {port} -k {self.root}", "start")

    def stop(self, name: str) -> None:
        self.run(self.bindir / "pg_ctl", "-D", self.root / name, "-m", "fast", "-w",
                 "stop")

    def scalar(self, port: int, sql: str, database: str = "postgres"):
        engine = create_engine(self.url(port, database), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                result = conn.execute(text(sql))
                return result.scalar() if result.returns_rows else None
        finally:
            engine.dispose()

    def wait_for_replay(self, timeout: float = 30) -> float:
        """Wait until the standby has replayed all the primary has written; the seconds
        it took."""
        started = time.monotonic()
        target = self.scalar(self.primary_port, "SELECT pg_current_wal_lsn()::text")
        while True:
            done = self.scalar(self.standby_port,
                               f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")
            if done:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise AssertionError(f"the standby did not replay {target} in {timeout} s")
            time.sleep(0.05)


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    if not (os.environ.get("SURVEY_TEST_DATABASE_URL") or REQUIRED):
        pytest.skip("a real replica runs in the PostgreSQL pass (SURVEY_TEST_DATABASE_URL "
                    "set) or with SURVEY_REQUIRE_REPLICA=1")
    bindir = server_binaries()
    if bindir is None or (os.geteuid() == 0 and shutil.which("runuser") is None):
        reason = ("PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) not found "
                  "under /usr/lib/postgresql/*/bin (apt-get install postgresql, or set "
                  "SURVEY_PG_BINDIR)")
        if REQUIRED:
            pytest.fail(f"SURVEY_REQUIRE_REPLICA=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="survey-replica-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    pair = Pair(bindir, root, free_port(), free_port())
    started: list[str] = []
    try:
        pair.run(bindir / "initdb", "-D", root / "primary", "-U", "postgres",
                 "--auth=trust", "--no-sync")
        with open(root / "primary" / "postgresql.conf", "a") as conf:
            conf.write("listen_addresses = '127.0.0.1'\nwal_level = replica\n"
                       "max_wal_senders = 4\nhot_standby = on\nfsync = off\n")
        pair.start("primary", pair.primary_port)
        started.append("primary")
        pair.run(bindir / "pg_basebackup", "-h", "127.0.0.1", "-p", str(pair.primary_port),
                 "-U", "postgres", "-D", root / "standby", "-R", "-X", "stream",
                 "--no-sync")
        pair.start("standby", pair.standby_port)
        started.append("standby")
        pair.scalar(pair.primary_port, "CREATE DATABASE survey")
        pair.wait_for_replay()
        state = pair.scalar(pair.primary_port,
                            "SELECT string_agg(state, ',') FROM pg_stat_replication")
        assert state == "streaming", state
        assert pair.scalar(pair.standby_port, "SELECT pg_is_in_recovery()") is True
        yield pair
    finally:
        for name in reversed(started):
            with contextlib.suppress(subprocess.CalledProcessError):
                pair.stop(name)  # (the test may have stopped it already)
        shutil.rmtree(root, ignore_errors=True)


class Seen:
    """Statements that read response figures, per engine, since the last `clear()`."""

    def __init__(self) -> None:
        self.primary = 0
        self.replica = 0

    def clear(self) -> None:
        self.primary = self.replica = 0


FIGURES = re.compile(r"\b(stats_rollup|count_rollup|response)\b")


def counting(engine, seen: Seen, side: str) -> None:
    def on_statement(_conn, _cursor, statement, *_args):
        if FIGURES.search(statement):
            setattr(seen, side, getattr(seen, side) + 1)

    event.listen(engine, "before_cursor_execute", on_statement)


def respondents(client, url: str) -> int:
    page = client.get(url)
    assert page.status_code == 200, url
    found = re.search(r"Responden (\d+)", re.sub(r"\s+", " ",
                                                 re.sub(r"<[^>]+>", " ", page.text)))
    return int(found.group(1)) if found else 0


def comparable(html: str) -> str:
    """A page without what differs between two renderings of the same data."""
    return re.sub(r'name="csrf_token"[^>]*value="[^"]+"', "", html)


def citizen_answers(app, slug: str) -> None:
    client = app.test_client()
    html, hidden = open_form(client, f"/s/{slug}")
    sent = client.post(f"/s/{slug}", data={**hidden, **answers(4),
                                           "service": service_id(html)})
    assert sent.status_code == 303, sent.status_code


@pytest.mark.slow
def test_figure_pages_read_a_real_streaming_replica(pair: Pair, tmp_path, caplog):
    settings = {"SQLALCHEMY_DATABASE_URI": pair.primary, "SURVEY_MIN_FILL_SECONDS": 0,
                "SURVEY_COOLDOWN_MINUTES": 0, "READ_REPLICA_MAX_LAG_SECONDS": 300,
                "READ_REPLICA_RETRY_SECONDS": 300}
    app = make_app(tmp_path / "a", DATABASE_READ_URL=pair.standby, **settings)
    plain = make_app(tmp_path / "b", **settings)  # the same primary, no replica
    seen = Seen()
    caplog.set_level(logging.INFO, logger=app.logger.name)
    try:
        with app.app_context():
            SetupMark.reset()
            db.create_all()
            seed_standards(db.session)
            db.session.commit()
            ORG.create_agency(db.session, "KEC-A", "Kecamatan A")
            ORG.create_desk(db.session, "KEC-A", "L1", "Loket 1")
            ORG.create_desk(db.session, "KEC-A", "L2", "Loket 2")
            ORG.create_service(db.session, "KEC-A", "KTP", "KTP-el", "ID card", ["L1", "L2"])
            db.session.commit()
            fill(ORG)
            make_user(ORG, "m@kec-a.go.id", "agency_manager", ["KEC-A"])
            make_user(ORG, "aud@bpk.go.id", "auditor")
            slug = desk_of("L1").slug
            counting(db.engine, seen, "primary")
        counting(app.extensions[EXTENSION].engine, seen, "replica")
        manager, auditor, reader = (app.test_client(), app.test_client(),
                                    plain.test_client())
        with app.app_context():
            login(manager, "m@kec-a.go.id")
            login(auditor, "aud@bpk.go.id")
        with plain.app_context():
            login(reader, "m@kec-a.go.id")
        lag = pair.wait_for_replay()

        # 1. The replica's pages equal the primary's.
        may = "/dashboard/KEC-A?period=2024-05"
        seen.clear()
        with app.app_context():
            from_replica = manager.get(may)
        assert from_replica.status_code == 200
        assert seen.replica and not seen.primary, "the dashboard did not read the replica"
        with plain.app_context():
            from_primary = reader.get(may)
        assert comparable(from_replica.text) == comparable(from_primary.text)
        with app.app_context():
            db.session.add(ReportingPeriod(key="2024-05", closed_at=utcnow()))
            db.session.commit()
        pair.wait_for_replay()
        seen.clear()
        with app.app_context():
            public = app.test_client().get("/publik/KEC-A")
        assert public.status_code == 200 and "Mei 2024" in public.text
        assert seen.replica and not seen.primary
        with plain.app_context():
            assert comparable(public.text) == comparable(
                plain.test_client().get("/publik/KEC-A").text)

        # 2. Replay paused: a new citizen's answer is stored on the primary, and the
        # dashboard served from the replica does not show it yet.
        month = local_today("Asia/Jakarta").strftime("%Y-%m")
        now_url = f"/dashboard/KEC-A?period={month}"
        with app.app_context():
            citizen_answers(app, slug)
        pair.wait_for_replay()
        with app.app_context():
            before = respondents(auditor, now_url)
        assert before == 1
        pair.scalar(pair.standby_port, "SELECT pg_wal_replay_pause()")
        with app.app_context():
            citizen_answers(app, slug)  # the submit path never waits for the replica
            assert db.session.scalar(select(func.count()).select_from(Response)) == 82
            seen.clear()
            assert respondents(auditor, now_url) == 1  # the replica, paused
            assert seen.replica and not seen.primary
        with plain.app_context():
            assert respondents(reader, now_url) == 2  # the primary has it

        # 3. A staff action while the replica is paused (and read-only): it is stored on
        # the primary, and the one who made it sees it at once; another reader still gets
        # the replica.
        rtl = f"/dashboard/KEC-A/rtl?period={month}"
        with app.app_context():
            form = manager.get(rtl).text
            saved = manager.post(rtl, data={
                "csrf_token": csrf_from(form), "element_code": "U3",
                "action": "Tambah petugas loket", "owner": "Kepala Seksi",
                "due_date": date.today().replace(day=28).isoformat(),
                "status": "in_progress", "evidence": ""})
            assert saved.status_code == 303
            assert db.session.scalar(select(func.count()).select_from(FollowUp)) == 1
            seen.clear()
            assert "Tambah petugas loket" in manager.get(now_url).text
            assert seen.primary and not seen.replica  # own write: the primary
            seen.clear()
            assert "Tambah petugas loket" not in auditor.get(now_url).text
            assert seen.replica and not seen.primary

        # 4. Beyond the lag bound, pages read the primary (with a log line).
        app.config["READ_REPLICA_MAX_LAG_SECONDS"] = 1
        time.sleep(1.5)
        with app.app_context():
            assert respondents(auditor, now_url) == 2
        assert any("behind" in r.getMessage() for r in caplog.records)
        app.config["READ_REPLICA_MAX_LAG_SECONDS"] = 300

        pair.scalar(pair.standby_port, "SELECT pg_wal_replay_resume()")
        pair.wait_for_replay()
        with app.app_context():
            seen.clear()
            assert respondents(auditor, now_url) == 2  # caught up
            assert "Tambah petugas loket" in auditor.get(now_url).text
            assert seen.replica and not seen.primary
            assert respondents(manager, now_url) == 2  # replayed: back on the replica
            assert seen.primary == 0

        # 5. The replica stopped: pages read the primary, with a log line; a started one
        # is used again after READ_REPLICA_RETRY_SECONDS.
        replica.dispose(app)
        pair.stop("standby")
        with app.app_context():
            seen.clear()
            assert respondents(auditor, now_url) == 2
            assert seen.primary and not seen.replica
            assert public_ok(app)
        assert any("unreachable" in r.getMessage() for r in caplog.records)
        pair.start("standby", pair.standby_port)
        pair.wait_for_replay()
        app.extensions[EXTENSION].down_until = 0.0  # the retry time has passed
        with app.app_context():
            seen.clear()
            assert respondents(auditor, now_url) == 2
            assert seen.replica and not seen.primary
        print(f"\nreplication: after the setup's writes and three sign-ins the standby "
              f"had replayed all the primary had written within {lag:.2f} s")
    finally:
        replica.dispose(app)
        with plain.app_context():
            db.engine.dispose()
        drop_everything(app)


def public_ok(app) -> bool:
    return app.test_client().get("/publik/KEC-A").status_code == 200
