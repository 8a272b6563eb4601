"""The database: the declarative base and the Flask-SQLAlchemy handle, engine set-up, write
transactions that behave the same on SQLite and PostgreSQL, and aware UTC timestamps."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import (
    Boolean,
    DateTime,
    Engine,
    MetaData,
    String,
    bindparam,
    event,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

# Stable constraint names: Alembic needs them to alter tables (SQLite batch mode) and the
# tests name the constraint a rejected row violated.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# The session handle every part of the application uses (`db.session`); bound to an
# application by the app factory. Flask-SQLAlchemy only scopes sessions to the application
# context: core code receives the Session as an argument and never reads a request.
db = SQLAlchemy(model_class=Base)

IMMEDIATE = "survey_sqlite_immediate"


def configure_engine(engine: Engine) -> None:
    """Make SQLite safe for concurrent writers.

    Foreign keys are off by default in SQLite; WAL lets readers run beside one writer; the
    busy timeout makes a second writer wait instead of failing; and because pysqlite's own
    transaction handling would begin lazily (and upgrade a read lock too late, failing with
    SQLITE_BUSY), we emit BEGIN ourselves: BEGIN IMMEDIATE for write transactions.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN in the "begin" event
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        if not _is_memory(engine):
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _is_memory(engine: Engine) -> bool:
    database = engine.url.database
    return not database or database == ":memory:" or "mode=memory" in str(engine.url)


@contextmanager
def write_transaction(session: Session | scoped_session) -> Iterator[Session]:
    """One write transaction: commit on success, roll back on any error.

    A read transaction left open by the view is finished first, so that on SQLite the
    write begins with BEGIN IMMEDIATE and waits for other writers (busy timeout) instead
    of failing when it tries to upgrade its lock.
    """
    if isinstance(session, scoped_session):
        session = session()
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("write_transaction() entered with unsaved changes")
        session.commit()
    session.connection(execution_options={IMMEDIATE: True})
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


class UTCDateTime(TypeDecorator):
    """A timezone-aware timestamp stored in UTC on every database.

    SQLite keeps no zone; PostgreSQL's timestamptz does. Either way the application only
    ever sees aware datetimes in UTC, and naive datetimes are refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a timezone-aware column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class _AnyOf(ColumnElement[bool]):
    """``column IN (ids)`` that PostgreSQL receives as ``column = ANY(array)``: one bind
    parameter instead of one per id (a national page lists 3,000 desks; rendering and
    sending 3,000 parameters cost more than the query)."""

    type = Boolean()
    inherit_cache = False  # the ids are part of the element: never a cached statement

    def __init__(self, column: ColumnElement, ids: list[int]) -> None:
        self.column = column
        self.ids = ids

    @property
    def _from_objects(self):  # the column's table, for SELECT ... FROM inference
        return self.column._from_objects


@compiles(_AnyOf)
def _any_of_default(element: _AnyOf, compiler, **kw) -> str:
    return compiler.process(element.column.in_(element.ids), **kw)


@compiles(_AnyOf, "postgresql")
def _any_of_postgresql(element: _AnyOf, compiler, **kw) -> str:
    # The array's text ('{1,2,3}'), cast by the server: psycopg's own dumping of a list of
    # 3,000 ints costs about 10 ms per statement. The cast sits in a scalar subquery (an
    # InitPlan, run once): bare, a generic plan of the prepared statement (psycopg
    # prepares a query from its 5th run) re-parses the text for every row it filters,
    # 2 s for a trend's 12,000 rows.
    text = "{" + ",".join(str(int(i)) for i in element.ids) + "}"
    column = compiler.process(element.column, **kw)
    ids = compiler.process(bindparam(None, text, type_=String), **kw)
    return f"{column} = ANY(CAST((SELECT CAST({ids} AS INTEGER[])) AS INTEGER[]))"


def any_of(column, ids: Iterable[int]) -> ColumnElement[bool]:
    """``column IN ids`` for many integer ids (desk ids), sent as one array on PostgreSQL."""
    return _AnyOf(column, list(ids))
