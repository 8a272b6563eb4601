"""A read replica: a second database, a copy of the primary kept by PostgreSQL's streaming
replication, that the pages which only read figures (dashboards, the published results,
the league) may use so that their heavy reads leave the primary to the citizens' submits.

Nothing here decides which page reads where (the web layer does, per request); this module
only makes the replica's engine, whose every connection refuses writes, and asks the two
databases where they stand in the primary's write-ahead log (WAL): how far the primary has
written, whether the replica has replayed up to a given point, and how many seconds its
data are behind. On a database other than PostgreSQL (the tests' second SQLite file) there
is no log position: positions are None, a lag is 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session

from survey.core.db import configure_engine


def make_engine(url: str, options: dict[str, Any] | None = None) -> Engine:
    """The replica's engine. Every connection is read-only (a hot standby refuses writes
    anyway; this also holds when the "replica" is a plain second database), so a write
    sent here by mistake fails loudly instead of landing where the primary never sees it.
    """
    options = dict(options or {})
    if url.startswith("postgresql"):
        # A replica that is down must not hold a page for the operating system's TCP
        # timeout: the page falls back to the primary after this many seconds.
        options.setdefault("connect_args", {}).setdefault("connect_timeout", 3)
    engine = create_engine(url, **options)
    configure_engine(engine)

    @event.listens_for(engine, "connect")
    def _read_only(dbapi_connection: Any, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        if engine.dialect.name == "postgresql":
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            dbapi_connection.commit()  # psycopg opened a transaction for the SET
        elif engine.dialect.name == "sqlite":
            cursor.execute("PRAGMA query_only = ON")
        cursor.close()

    return engine


def write_position(session: Session) -> str | None:
    """Where the primary's WAL stands now (after a commit: a point that includes it), or
    None on a database without one."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return session.scalar(text("SELECT pg_current_wal_lsn()::text"))


@dataclass(frozen=True)
class ReplicaState:
    """What a page needs to know about the replica before reading from it."""

    lag_seconds: float    # how old its newest data may be; 0 when it has replayed all
    caught_up: bool       # it has replayed the position asked about (True if none asked)


# Lag: 0 when the replica has replayed everything it received (an idle primary sends
# nothing, so the time since the last replayed commit says nothing then), else the age of
# the last commit it replayed. A server that is not a standby (the same database under a
# second URL) has no lag, and its own current position is its replayed one.
_STATE = text("""
    SELECT CASE WHEN NOT pg_is_in_recovery()
                  OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()),
                              0) END,
           CASE WHEN CAST(:position AS text) IS NULL THEN true
                WHEN pg_is_in_recovery()
                  THEN pg_last_wal_replay_lsn() >= CAST(:position AS pg_lsn)
                ELSE pg_current_wal_lsn() >= CAST(:position AS pg_lsn) END
""")


def state(session: Session, position: str | None = None) -> ReplicaState:
    """The replica's lag, and whether it has replayed ``position`` (from
    `write_position`). Also the first statement a page sends there: a replica that is
    down raises here (sqlalchemy.exc.OperationalError), before any figure is read."""
    if session.get_bind().dialect.name != "postgresql":
        session.execute(text("SELECT 1"))
        return ReplicaState(0.0, True)
    lag, caught_up = session.execute(_STATE, {"position": position}).one()
    return ReplicaState(float(lag), bool(caught_up))
