"""Which database a page reads: the primary (``db.session``), or the read replica of
DATABASE_READ_URL for the pages that only show figures (see the README, "A read replica").

A view that may read from the replica asks `reads()` for its session; every other view,
and everything that writes, keeps ``db.session``. `reads()` answers the primary instead
when

- no replica is configured;
- the replica is unreachable (logged; the primary is then used for
  READ_REPLICA_RETRY_SECONDS without trying again, so a dead replica does not cost every
  page a connection timeout);
- it is more than READ_REPLICA_MAX_LAG_SECONDS behind (logged);
- the signed-in visitor wrote something that the replica has not replayed yet: after a
  staff member's successful POST the primary's WAL position is kept in their session, and
  their pages read the primary until the replica has passed it (then the mark is dropped).
  On a database without WAL positions the mark lasts READ_REPLICA_MAX_LAG_SECONDS.

Staff pages check who may see an agency on the primary (`require_agency` with
``db.session``: a revoked right is gone at once) and then read the figures through
`read_agency`, which loads the agency again in the replica's session.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import TypeVar

from flask import Flask, Response, current_app, g, request, session
from flask.globals import app_ctx
from flask_login import current_user
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from survey.core import replica as core_replica
from survey.core.config import database_uri
from survey.core.db import Base, db

EXTENSION = "survey_replica"
MARK = "_written"  # in the Flask session: {"lsn": "0/3000060" or None, "at": epoch}
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

M = TypeVar("M", bound=Base)


@dataclass
class Replica:
    """One application's replica: its engine, its request-scoped sessions, and since when
    it counts as down."""

    engine: Engine
    sessions: scoped_session
    down_until: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def is_down(self) -> bool:
        return time.monotonic() < self.down_until

    def mark_down(self, seconds: float) -> None:
        with self.lock:
            self.down_until = time.monotonic() + seconds


def init_app(app: Flask) -> None:
    """Make the replica's engine when DATABASE_READ_URL is set; mark staff writes."""
    url = str(app.config.get("DATABASE_READ_URL") or "").strip()
    if url:
        engine = core_replica.make_engine(database_uri(url),
                                          app.config.get("SQLALCHEMY_ENGINE_OPTIONS"))
        # One session per application context, like Flask-SQLAlchemy's db.session, but
        # closed after every request: nothing loaded there outlives its page, and no
        # read transaction stays open on the replica (where it could hold back replay).
        sessions = scoped_session(sessionmaker(bind=engine), scopefunc=_context_id)
        app.extensions[EXTENSION] = Replica(engine, sessions)
        app.teardown_request(_remove_session)
        app.teardown_appcontext(_remove_session)
    app.after_request(_mark_writes)


def _context_id() -> int:
    return id(app_ctx._get_current_object())  # type: ignore[attr-defined]


def _remove_session(_exc: BaseException | None) -> None:
    current_app.extensions[EXTENSION].sessions.remove()


def configured() -> Replica | None:
    return current_app.extensions.get(EXTENSION)


def dispose(app: Flask) -> None:
    """Close the replica's pooled connections (tests, and an application shut down)."""
    rep = app.extensions.get(EXTENSION)
    if rep is not None:
        rep.engine.dispose()  # every page closed its session (teardown_request)


def reads() -> Session:
    """The session for this request's read-only figures: the replica's, or the primary's
    for the reasons in the module's docstring. Decided once per request."""
    chosen = g.get("_survey_reads")
    if chosen is None:
        chosen = g._survey_reads = _choose()
    return chosen


def reading_replica() -> bool:
    """Whether `reads()` chose the replica for this request (for logs and tests)."""
    rep = configured()
    return rep is not None and g.get("_survey_reads") is rep.sessions()


def read_agency(obj: M) -> tuple[Session, M]:
    """The session for this page's figures and ``obj`` (an agency found on the primary)
    as that session sees it; the primary's when the replica does not have it yet (an
    agency created a moment ago)."""
    chosen = reads()
    if chosen is db.session():
        return chosen, obj
    again = chosen.get(type(obj), obj.id)  # type: ignore[attr-defined]
    if again is None:
        current_app.logger.info("read replica: %s %s not replicated yet; reading the "
                                "primary", type(obj).__name__, obj.id)  # type: ignore[attr-defined]
        g._survey_reads = db.session()
        return db.session(), obj
    return chosen, again


def _choose() -> Session:
    rep = configured()
    if rep is None or rep.is_down():
        return db.session()
    config = current_app.config
    max_lag = float(config["READ_REPLICA_MAX_LAG_SECONDS"])
    mark = _own_mark()
    if mark is not None and mark.get("lsn") is None:
        if time.time() - float(mark.get("at", 0)) < max_lag:
            return db.session()  # no WAL positions here: wait out the bound
        session.pop(MARK, None)
        mark = None
    candidate = rep.sessions()
    try:
        state = core_replica.state(candidate, mark.get("lsn") if mark else None)
    except (DBAPIError, SQLAlchemyError) as exc:
        _discard(candidate)
        seconds = float(config["READ_REPLICA_RETRY_SECONDS"])
        rep.mark_down(seconds)
        current_app.logger.warning(
            "read replica unreachable (%s); reading from the primary for %.0f s",
            type(exc).__name__, seconds)
        return db.session()
    if max_lag > 0 and state.lag_seconds > max_lag:
        _discard(candidate)
        current_app.logger.warning(
            "read replica %.1f s behind (more than READ_REPLICA_MAX_LAG_SECONDS=%g); "
            "reading from the primary", state.lag_seconds, max_lag)
        return db.session()
    if not state.caught_up:
        _discard(candidate)
        return db.session()  # this visitor's own write is not there yet
    if mark is not None:
        session.pop(MARK, None)
    return candidate


def _own_mark() -> dict | None:
    if not current_user or not current_user.is_authenticated:
        return None
    mark = session.get(MARK)
    return mark if isinstance(mark, dict) else None


def _discard(candidate: Session) -> None:
    with contextlib.suppress(SQLAlchemyError):  # a lost connection has nothing to undo
        candidate.rollback()


def _mark_writes(response: Response) -> Response:
    """After a signed-in visitor's successful POST (every staff action is one), keep the
    primary's WAL position in their session: their next pages must show what they did."""
    if (configured() is None or request.method in SAFE_METHODS
            or request.path.startswith("/api/")  # bearer tokens: no session to keep it
            or response.status_code >= 400 or not current_user
            or not current_user.is_authenticated):
        return response
    try:
        position = core_replica.write_position(db.session)
    except SQLAlchemyError:
        position = None
    session[MARK] = {"lsn": position, "at": time.time()}
    return response
