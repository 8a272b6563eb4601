"""PostgreSQL only, opt-in: the response and answer tables partitioned by period (month or
year of the response's `day`), behind the same models.

Why: at national scale (tens of millions of responses, ten answers each) one table per
period keeps each table and its indexes small, lets a period's rows be vacuumed, dumped or
archived alone, and lets a query that names a period read only its partitions. The rollups
(what the dashboards read) are unchanged.

What changes in the partitioned layout, and why every guarantee still holds:

- PostgreSQL wants the partition key (`day`) in every primary key and unique constraint of
  a partitioned table, and a foreign key to it must name such a key. So the response's
  key becomes (id, day), and the answer's composite foreign key becomes (response_id,
  questionnaire_id, day) -> response (id, questionnaire_id, day): an answer still cannot
  name a response that does not exist or an element of another questionnaire, and its
  `day` must be its response's (answers are partitioned by the same day).
- Global uniqueness that a per-partition index cannot give lives in a small ordinary
  table, `response_key` (id PRIMARY KEY, day, idempotency_key UNIQUE), which a trigger
  fills in the statement that inserts the response: a second response with the same id or
  the same idempotency key on any day, in any partition, fails that statement (a unique
  violation, as before), so a repeated submission still stores nothing. Its own foreign
  key (id, day) -> response means it holds no key without its response, and it is
  append-only like the responses. Review decisions reference response_key (id), since
  they carry no day.
- The append-only triggers are recreated on the partitioned tables (PostgreSQL 13+ fires
  row triggers of a partitioned table on every partition).

Partitions: one "older" partition for everything before the first period (backdated
paper forms), one per period up to `ahead` months after today, and a default partition
for anything later. `ensure_ahead` (`flask partitions ahead`, run daily by cron or the CI
deploy) keeps months ahead; it refuses, naming the count, if the default partition already
holds rows of a period it would create.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import Session

from survey.core.db import utcnow
from survey.core.errors import ValidationError

GRAINS = ("month", "year")
TABLES = ("response", "answer")
KEY_TABLE = "response_key"
DEFAULT_AHEAD = 24  # months of partitions kept ready after the current one
_NAME = re.compile(r"_(m(\d{4})_(\d{2})|y(\d{4}))$")


@dataclass(frozen=True)
class Report:
    """What `apply` or `ensure_ahead` did."""

    converted: bool
    grain: str
    created: list[str] = field(default_factory=list)
    responses: int = 0  # rows moved into the partitioned tables
    answers: int = 0


@dataclass(frozen=True)
class Status:
    partitioned: bool
    grain: str | None = None
    first: date | None = None  # the first and last period with a partition of its own
    last: date | None = None
    default_rows: int = 0  # responses in the default partition (after the last period)


# --- periods ------------------------------------------------------------------------------


def period_start(day: date, grain: str) -> date:
    return date(day.year, day.month if grain == "month" else 1, 1)


def next_start(start: date, grain: str) -> date:
    if grain == "year":
        return date(start.year + 1, 1, 1)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


def partition_name(table: str, start: date, grain: str) -> str:
    return f"{table}_m{start:%Y_%m}" if grain == "month" else f"{table}_y{start:%Y}"


def _horizon(today: date, ahead: int, grain: str) -> date:
    """The start of the last period that must have its partition."""
    month = today.month - 1 + ahead
    return period_start(date(today.year + month // 12, month % 12 + 1, 1), grain)


# --- reading the layout ---------------------------------------------------------------------


def _require_postgresql(session: Session) -> None:
    name = session.get_bind().dialect.name
    if name != "postgresql":
        raise ValidationError(
            f"partitioning needs PostgreSQL; this database is {name}: nothing to do",
            code="partitions_need_postgresql", dialect=name)


def _kind(session: Session, table: str) -> str | None:
    """'p' partitioned, 'r' ordinary, None missing."""
    return session.scalar(text("SELECT relkind::text FROM pg_class WHERE oid = to_regclass(:t)"),
                          {"t": table})


def _partitions(session: Session, table: str) -> list[tuple[str, str]]:
    return [tuple(row) for row in session.execute(text(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(:t) "
        "ORDER BY c.relname"), {"t": table})]


def _periods(session: Session, table: str) -> tuple[str | None, list[date]]:
    """The grain and the period starts of the table's per-period partitions."""
    grain, starts = None, []
    for name, _bound in _partitions(session, table):
        match = _NAME.search(name)
        if match is None or not name.startswith(table + "_"):
            continue
        if match.group(4):
            grain, start = "year", date(int(match.group(4)), 1, 1)
        else:
            grain, start = "month", date(int(match.group(2)), int(match.group(3)), 1)
        starts.append(start)
    return grain, sorted(starts)


def status(session: Session) -> Status:
    _require_postgresql(session)
    if _kind(session, "response") != "p":
        return Status(False)
    grain, starts = _periods(session, "response")
    default_rows = session.scalar(text("SELECT count(*) FROM response_later")) or 0
    return Status(True, grain, starts[0] if starts else None, starts[-1] if starts else None,
                  default_rows)


# --- creating partitions --------------------------------------------------------------------


def _create_period(session: Session, start: date, grain: str) -> list[str]:
    end = next_start(start, grain)
    names = []
    for table in TABLES:
        name = partition_name(table, start, grain)
        session.execute(text(
            f"CREATE TABLE {name} PARTITION OF {table} "
            f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"))
        names.append(name)
    return names


def ensure_ahead(session: Session, ahead: int = DEFAULT_AHEAD, today: date | None = None
                 ) -> Report:
    """Create the partitions of every period from the last one up to `ahead` months after
    today's (idempotent: existing partitions are kept). Refuses, creating nothing, if the
    default partition already holds responses of such a period."""
    _require_postgresql(session)
    if ahead < 0:
        raise ValidationError("ahead must be 0 or more months", code="partitions_ahead")
    if _kind(session, "response") != "p":
        raise ValidationError("the response table is not partitioned: run "
                              "`flask partitions apply` first", code="partitions_not_applied")
    today = today or utcnow().date()
    grain, starts = _periods(session, "response")
    if grain is None:
        raise ValidationError("the partitioned response table has no period partitions",
                              code="partitions_broken")
    horizon = _horizon(today, ahead, grain)
    start = next_start(starts[-1], grain)
    wanted = []
    while start <= horizon:
        wanted.append(start)
        start = next_start(start, grain)
    if not wanted:
        return Report(False, grain)
    stray = session.scalar(text(
        "SELECT count(*) FROM response_later WHERE day >= :low AND day < :high"),
        {"low": wanted[0], "high": next_start(wanted[-1], grain)})
    if stray:
        raise ValidationError(
            f"{stray} responses dated from {wanted[0]} on are in the default partition "
            "response_later; their periods cannot get partitions of their own while they "
            "are there (see docs/partitioning.md)", code="partitions_default_rows",
            count=stray)
    created = []
    for start in wanted:
        created += _create_period(session, start, grain)
    return Report(False, grain, created)


# --- converting the ordinary layout -----------------------------------------------------------


def _fetch(session: Session, sql: str, **params) -> list[tuple]:
    return [tuple(row) for row in session.execute(text(sql), params)]


def apply(session: Session, grain: str = "month", ahead: int = DEFAULT_AHEAD,
          today: date | None = None) -> Report:
    """Partition response and answer by `grain` in the caller's transaction, moving any
    rows they hold. On an already partitioned database it only creates the partitions
    ahead (idempotent). Refuses, changing nothing, when it cannot run: not PostgreSQL, no
    schema yet, a schema older than migration 0012, another grain than the existing one."""
    _require_postgresql(session)
    if grain not in GRAINS:
        raise ValidationError(f"grain must be month or year, not {grain!r}",
                              code="partitions_grain", grain=grain)
    kinds = {table: _kind(session, table) for table in TABLES}
    if None in kinds.values():
        raise ValidationError("there is no response or answer table yet: run "
                              "`flask db upgrade` (or `flask init`) first",
                              code="partitions_no_schema")
    if kinds == {"response": "p", "answer": "p"}:
        existing, _starts = _periods(session, "response")
        if existing != grain:
            raise ValidationError(f"the tables are already partitioned by {existing}; the "
                                  "grain cannot change in place", code="partitions_grain",
                                  grain=existing)
        return ensure_ahead(session, ahead, today)
    if "p" in kinds.values():
        raise ValidationError("only one of response and answer is partitioned: restore "
                              "the database from its backup", code="partitions_broken")
    if not session.scalar(text(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = 'answer' AND column_name = 'day'")):
        raise ValidationError("the answer table has no day column: run `flask db upgrade` "
                              "first (migration 0012)", code="partitions_old_schema")
    sequence = session.scalar(text("SELECT pg_get_serial_sequence('response', 'id')"))
    if sequence is None:
        raise ValidationError("response.id has no sequence of its own; cannot partition",
                              code="partitions_broken")
    today = today or utcnow().date()
    session.execute(text(
        "LOCK TABLE response, answer, review_decision IN ACCESS EXCLUSIVE MODE"))
    return _convert(session, grain, ahead, today, sequence)


def _convert(session: Session, grain: str, ahead: int, today: date, sequence: str) -> Report:
    run = session.execute
    # What the ordinary tables carry besides the keys this layout replaces: foreign keys
    # to other tables and plain indexes, replayed as PostgreSQL prints them.
    foreign = {table: _fetch(session, (
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f' "
        "AND conrelid = to_regclass(:t) AND confrelid <> 'response'::regclass "
        "ORDER BY conname"), t=table) for table in TABLES}
    indexes = {table: [d for (d,) in _fetch(session, (
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = "
        "to_regclass(:t) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
        "WHERE c.conindid = i.indexrelid) ORDER BY i.indexrelid"), t=table)]
        for table in TABLES}
    referencing = _fetch(session, (
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
        "FROM pg_constraint WHERE contype = 'f' AND confrelid = 'response'::regclass "
        "AND conrelid <> 'answer'::regclass"))
    for table, name, definition in referencing:
        if not re.fullmatch(r"FOREIGN KEY \((\w+)\) REFERENCES response\(id\)", definition):
            raise ValidationError(f"{table}.{name} ({definition}) cannot be carried over",
                                  code="partitions_broken")
    first_day = session.scalar(text("SELECT min(day) FROM response")) or today
    # From the January of the first response's year (or this year's): the year's own
    # backdated paper forms get their month.
    first = date(min(first_day, today).year, 1, 1)
    answer_columns = [c for (c,) in _fetch(session, (
        "SELECT column_name FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = 'answer' ORDER BY ordinal_position"))]

    for table in TABLES:
        run(text(f"ALTER TABLE {table} RENAME TO {table}_plain"))
    run(text(f"ALTER SEQUENCE {sequence} OWNED BY NONE"))
    like = "INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS"
    for table in TABLES:
        run(text(f"CREATE TABLE {table} (LIKE {table}_plain {like}) PARTITION BY RANGE (day)"))
    run(text("ALTER TABLE answer ALTER COLUMN day SET NOT NULL"))
    run(text(f"ALTER SEQUENCE {sequence} OWNED BY response.id"))
    created = []
    for table in TABLES:
        run(text(f"CREATE TABLE {table}_older PARTITION OF {table} "
                 f"FOR VALUES FROM (MINVALUE) TO ('{first.isoformat()}')"))
        run(text(f"CREATE TABLE {table}_later PARTITION OF {table} DEFAULT"))
    start, horizon = first, _horizon(today, ahead, grain)
    while start <= horizon:
        created += _create_period(session, start, grain)
        start = next_start(start, grain)

    responses = run(text("INSERT INTO response SELECT * FROM response_plain")).rowcount
    select_list = ", ".join("r.day" if c == "day" else f"a.{c}" for c in answer_columns)
    answers = run(text(
        f"INSERT INTO answer ({', '.join(answer_columns)}) SELECT {select_list} "
        "FROM answer_plain a JOIN response_plain r ON r.id = a.response_id")).rowcount
    stored = session.scalar(text("SELECT count(*) FROM answer_plain"))
    if answers != stored:  # cannot happen under the old foreign key; never lose a row
        raise ValidationError(f"{stored - answers} answers have no response; nothing changed",
                              code="partitions_broken")
    for table, name, _definition in referencing:
        run(text(f"ALTER TABLE {table} DROP CONSTRAINT {name}"))
    run(text("DROP TABLE answer_plain"))
    run(text("DROP TABLE response_plain"))

    for statement in (
        "ALTER TABLE response ADD CONSTRAINT pk_response PRIMARY KEY (id, day)",
        "ALTER TABLE response ADD CONSTRAINT uq_response_id_questionnaire_id_day "
        "UNIQUE (id, questionnaire_id, day)",
        "CREATE INDEX ix_response_idempotency_key ON response (idempotency_key) "
        "WHERE idempotency_key IS NOT NULL",
        "ALTER TABLE answer ADD CONSTRAINT pk_answer PRIMARY KEY (response_id, element_id, day)",
        "ALTER TABLE answer ADD CONSTRAINT fk_answer_response_id_questionnaire_id_response "
        "FOREIGN KEY (response_id, questionnaire_id, day) "
        "REFERENCES response (id, questionnaire_id, day)",
    ):
        run(text(statement))
    for table in TABLES:
        for name, definition in foreign[table]:
            run(text(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"))
        for definition in indexes[table]:
            run(text(definition))
    _create_key_table(session)
    for table, name, definition in referencing:
        run(text(f"ALTER TABLE {table} ADD CONSTRAINT {name} "
                 f"{definition.replace('REFERENCES response(id)', 'REFERENCES response_key(id)')}"))
    for table in (*TABLES, KEY_TABLE):
        run(text(f"ANALYZE {table}"))
    return Report(True, grain, created, responses, answers)


def _create_key_table(session: Session) -> None:
    """response_key: the globally unique id and idempotency key of every response, filled
    by a trigger in the statement that inserts the response."""
    for statement in (
        f"CREATE TABLE {KEY_TABLE} ("
        "id bigint NOT NULL, day date NOT NULL, idempotency_key varchar(64), "
        f"CONSTRAINT pk_{KEY_TABLE} PRIMARY KEY (id), "
        f"CONSTRAINT uq_{KEY_TABLE}_idempotency_key UNIQUE (idempotency_key), "
        f"CONSTRAINT fk_{KEY_TABLE}_id_day_response FOREIGN KEY (id, day) "
        "REFERENCES response (id, day))",
        f"INSERT INTO {KEY_TABLE} (id, day, idempotency_key) "
        "SELECT id, day, idempotency_key FROM response",
        "CREATE OR REPLACE FUNCTION survey_response_key() RETURNS trigger AS $$ BEGIN "
        f"INSERT INTO {KEY_TABLE} (id, day, idempotency_key) "
        "VALUES (NEW.id, NEW.day, NEW.idempotency_key); RETURN NULL; END $$ "
        "LANGUAGE plpgsql",
        "CREATE TRIGGER response_key_insert AFTER INSERT ON response "
        "FOR EACH ROW EXECUTE FUNCTION survey_response_key()",
        "CREATE TRIGGER response_append_only BEFORE UPDATE OR DELETE ON response "
        "FOR EACH ROW EXECUTE FUNCTION survey_response_guard()",
        "CREATE TRIGGER answer_append_only BEFORE UPDATE OR DELETE ON answer "
        "FOR EACH ROW EXECUTE FUNCTION survey_append_only()",
        f"CREATE TRIGGER {KEY_TABLE}_append_only BEFORE UPDATE OR DELETE ON {KEY_TABLE} "
        "FOR EACH ROW EXECUTE FUNCTION survey_append_only()",
    ):
        session.execute(text(statement))
