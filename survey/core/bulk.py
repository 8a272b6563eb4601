"""Writing many rows quickly, for the one write path of responses: a 30,000-row import
must not hold the database (SQLite) or the chain lock (PostgreSQL) for seconds.

- Ids are reserved up front, so that rows go in without RETURNING (SQLAlchemy's
  RETURNING of many rows is one statement per row on SQLite and a huge multi-VALUES
  statement on PostgreSQL).
- Many rows go in with COPY on PostgreSQL (about ten times faster than an INSERT
  pipeline), and on SQLite with one prepared INSERT the driver runs per row; few rows (a
  citizen's submission) with an ordinary SQLAlchemy INSERT.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

COPY_FROM = 50  # rows; below this an INSERT is as fast and simpler


def reserve_ids(session: Session, table: Table, count: int) -> list[int]:
    """`count` new ids for `table`'s integer primary key `id`, in increasing order.

    On PostgreSQL they come from the column's sequence (concurrent writers get others). On
    SQLite they follow the largest id; the caller must hold the write transaction
    (`write_transaction` begins IMMEDIATE), which keeps any other writer out until commit.
    """
    if count <= 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return list(session.scalars(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                 "FROM generate_series(1, :count) ORDER BY 1"),
            {"table": table.name, "count": count}))
    start = session.scalar(select(func.coalesce(func.max(table.c.id), 0))) + 1
    return list(range(start, start + count))


def insert_rows(session: Session, table: Table, columns: Sequence[str],
                rows: Sequence[Sequence[Any]]) -> None:
    """Insert rows (tuples of values in the order of `columns`) in the caller's
    transaction."""
    if not rows:
        return
    if len(rows) < COPY_FROM:
        session.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
    elif session.get_bind().dialect.name == "postgresql":
        _copy(session, table, columns, rows)
    else:
        _executemany(session, table, columns, rows)


def _executemany(session: Session, table: Table, columns: Sequence[str],
                 rows: Sequence[Sequence[Any]]) -> None:
    """One prepared INSERT the driver runs for every row, with the columns' own bind
    processors (dates, time zones, booleans) applied here rather than by SQLAlchemy's
    per-row parameter handling."""
    dialect = session.get_bind().dialect
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
                  for name in columns]
    quote = dialect.identifier_preparer.quote
    statement = (f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, columns))}) "
                 f"VALUES ({', '.join('?' * len(columns))})")
    if any(processors):
        rows = [tuple(p(value) if p else value
                      for value, p in zip(row, processors, strict=True)) for row in rows]
    session.flush()  # anything pending goes first, in order
    session.connection().exec_driver_sql(statement, list(rows))


def _copy(session: Session, table: Table, columns: Sequence[str],
          rows: Sequence[Sequence[Any]]) -> None:
    """COPY FROM STDIN through psycopg, in the session's transaction."""
    import psycopg  # installed wherever PostgreSQL is used (extra "postgres")
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns)))
    session.flush()  # anything pending goes first, in order
    driver = session.connection().connection.driver_connection
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as error:
        # As SQLAlchemy would raise it (IntegrityError for a duplicate idempotency key,
        # OperationalError for a lost server), so callers handle both paths alike.
        raise DBAPIError.instance(f"COPY {table.name}", None, error, psycopg.Error,
                                  dialect=session.get_bind().dialect) from error
