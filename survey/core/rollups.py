"""Per-desk-per-day (and per-month) rollups of the engine's sufficient statistics.

They are updated in the same transaction that stores a response (or releases a flagged
one), under the chain-head lock that every evidence write takes first, so concurrent
read-modify-writes of a rollup row cannot interleave. They are a cache of the raw
responses: `survey.core.results.raw.rebuild_rollups` recomputes them, and a test proves
rebuilt == live.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from sqlalchemy import and_, bindparam, or_, select, text, update
from sqlalchemy.orm import Session

from survey.core import bulk, ledger
from survey.core.errors import ValidationError
from survey.core.models import CountRollup, StatsRollup
from survey.core.periods import add_months, month_end
from survey.ikm.stats import reduce_rows

DTYPE = np.dtype("<i8")
NO_SERVICE = 0
# Which responses a result counts: clean (not flagged, or released), all (clean and
# flagged), verified (clean, from one-time tickets), flagged (only the flagged ones).
SCOPES = ("clean", "all", "verified", "flagged")


def check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise ValidationError(f"scope must be one of {', '.join(SCOPES)}", code="bad_scope",
                              value=str(scope)[:20])
    return scope


def scope_filter(scope: str):
    """SQL: the statistics rollup rows of a result scope ("all" adds flagged to clean)."""
    if check_scope(scope) == "all":
        return StatsRollup.scope.in_(("clean", "flagged"))
    return StatsRollup.scope == scope


@dataclass(frozen=True)
class Contribution:
    """One response as the rollups see it: where it counts and its scores in element
    order (0 = blank)."""

    desk_id: int
    questionnaire_id: int
    day: date
    service_id: int | None
    verified: bool
    flagged: bool
    scores: tuple[int, ...]
    hour: int = 0
    channel: str = "qr"
    profile: tuple[str | None, str | None, str | None, str | None] = (None, None, None, None)


def scopes(item: Contribution) -> list[tuple[str, int]]:
    """The (scope, service_id) buckets a response counts in."""
    if item.flagged:
        return [("flagged", NO_SERVICE)]
    out = [("clean", NO_SERVICE)]
    if item.verified:
        out.append(("verified", NO_SERVICE))
    if item.service_id:
        out.append(("service", item.service_id))
    return out


def encode(values: np.ndarray) -> bytes:
    return np.ascontiguousarray(values, dtype=DTYPE).tobytes()


def decode_many(blobs: Sequence[bytes], length: int) -> np.ndarray:
    """Stack many rollup blobs into an (m, length) int64 array in one copy."""
    if not blobs:
        return np.zeros((0, length), dtype=np.int64)
    return np.frombuffer(b"".join(blobs), dtype=DTYPE).reshape(len(blobs), length)


Key = tuple[int, str, str, date, int, int]  # desk, scope, grain, start, questionnaire, service


@dataclass(frozen=True)
class Deltas:
    """What a set of responses adds to the rollups, computed before the chain lock is
    taken (for a large import this is most of the work)."""

    stats: dict[Key, np.ndarray]
    counts: dict[CountKey, list[int]]


def deltas_for(items: Iterable[Contribution], *, counts: bool = True) -> Deltas:
    items = list(items)
    return Deltas(_stats_deltas(items), _count_totals(items) if counts else {})


def add_responses(session: Session, items: Sequence[Contribution] | Deltas) -> int:
    """New responses (or their precomputed `Deltas`): their statistics and counts."""
    deltas = items if isinstance(items, Deltas) else deltas_for(items)
    return _write_stats(session, deltas.stats, 1) + _write_counts(session, deltas.counts)


def apply(session: Session, items: Iterable[Contribution], sign: int = 1) -> int:
    """Add (sign=+1) or remove (sign=-1) responses from the statistics rollups; returns
    rows touched. A review that releases a flagged response removes it from the flagged
    scope and adds it to the clean ones."""
    return _write_stats(session, _stats_deltas(list(items)), sign)


def _stats_deltas(items: Sequence[Contribution]) -> dict[Key, np.ndarray]:
    by_key: dict[Key, list[tuple[int, ...]]] = defaultdict(list)
    for item in items:
        month = item.day.replace(day=1)
        for scope, service_id in scopes(item):
            for grain, start in (("D", item.day), ("M", month)):
                key = (item.desk_id, scope, grain, start, item.questionnaire_id, service_id)
                by_key[key].append(item.scores)
    return _deltas(by_key) if by_key else {}


def _write_stats(session: Session, deltas: dict[Key, np.ndarray], sign: int) -> int:
    ledger.lock_head(session)
    if not deltas:
        return 0
    existing = _existing(session, list(deltas))
    updates, inserts = [], []
    for key, delta in deltas.items():
        delta = delta * sign
        row = _pk(key)
        if key in existing:
            values = np.frombuffer(existing[key], dtype=DTYPE) + delta
            updates.append({**{"key_" + k: v for k, v in row.items()},
                            "new_n": int(values[0]), "new_stats": encode(values)})
        else:
            if sign < 0:
                raise RuntimeError(f"rollup row {key} is missing; run flask ikm rebuild-rollups")
            inserts.append({**row, "n": int(delta[0]), "stats": encode(delta)})
    if updates:
        session.execute(_UPDATE_STATS, updates)
    if inserts:
        bulk.insert_rows(session, StatsRollup.__table__, tuple(inserts[0]),
                         [tuple(row.values()) for row in inserts])
    return len(updates) + len(inserts)


def _pk(key: Key) -> dict:
    desk_id, scope, grain, start, questionnaire_id, service_id = key
    return {"desk_id": desk_id, "scope": scope, "grain": grain, "period_start": start,
            "questionnaire_id": questionnaire_id, "service_id": service_id}


def _update_by_key(table, key_names: tuple[str, ...], value_names: tuple[str, ...]):
    """A Core UPDATE of one row by its primary key, run once per parameter set (the ORM's
    bulk update by primary key does the same with several times the CPU)."""
    return (update(table)
            .where(*(table.c[name] == bindparam("key_" + name) for name in key_names))
            .values({name: bindparam("new_" + name) for name in value_names}))


_STATS_KEY = ("desk_id", "scope", "grain", "period_start", "questionnaire_id", "service_id")
_UPDATE_STATS = _update_by_key(StatsRollup.__table__, _STATS_KEY, ("n", "stats"))


def _deltas(by_key: dict[Key, list[tuple[int, ...]]]) -> dict[Key, np.ndarray]:
    """Flat statistics per key, reduced with numpy per element count."""
    out: dict[Key, np.ndarray] = {}
    by_width: dict[int, list[Key]] = defaultdict(list)
    for key, rows in by_key.items():
        by_width[len(rows[0])].append(key)
    for _width, keys in by_width.items():
        ids = np.concatenate([np.full(len(by_key[k]), i) for i, k in enumerate(keys)])
        scores = np.array([s for k in keys for s in by_key[k]], dtype=np.int8)
        for index, stats in reduce_rows(ids, scores).items():
            out[keys[index]] = np.asarray(stats.to_flat(), dtype=np.int64)
    return out


def _existing(session: Session, keys: list[Key]) -> dict[Key, bytes]:
    found: dict[Key, bytes] = {}
    desk_ids = sorted({k[0] for k in keys})
    starts = sorted({k[3] for k in keys})
    columns = (StatsRollup.desk_id, StatsRollup.scope, StatsRollup.grain,
               StatsRollup.period_start, StatsRollup.questionnaire_id, StatsRollup.service_id)
    query = select(*columns, StatsRollup.stats).where(StatsRollup.desk_id.in_(desk_ids))
    if len(starts) <= 64:
        query = query.where(StatsRollup.period_start.in_(starts))
    else:
        query = query.where(StatsRollup.period_start.between(starts[0], starts[-1]))
    wanted = set(keys)
    for *key, blob in session.execute(query):
        key = tuple(key)
        if key in wanted:
            found[key] = bytes(blob)
    return found


PROFILE_DIMENSIONS = ("sex", "age", "education", "occupation")
CountKey = tuple[int, str, str, date, str]  # desk, dimension, grain, start, value


def arrival_value(day: date, hour: int) -> str:
    return f"{day.weekday()}-{hour:02d}"


def apply_counts(session: Session, items: Iterable[Contribution]) -> int:
    """Add responses to the arrival, profile and channel counts."""
    return _write_counts(session, _count_totals(list(items)))


def _count_totals(items: Sequence[Contribution]) -> dict[CountKey, list[int]]:
    totals: dict[CountKey, list[int]] = defaultdict(lambda: [0, 0, 0])
    for item in items:
        answered = [s for s in item.scores if s]
        values = [("arrival", arrival_value(item.day, item.hour)), ("channel", item.channel)]
        values += [(dim, value or "") for dim, value in
                   zip(PROFILE_DIMENSIONS, item.profile, strict=True)]
        for dimension, value in values:
            for grain, start in (("D", item.day), ("M", item.day.replace(day=1))):
                cell = totals[(item.desk_id, dimension, grain, start, value)]
                cell[0] += 1
                if dimension == "arrival":
                    cell[1] += len(answered)
                    cell[2] += sum(answered)
    return dict(totals)


def _write_counts(session: Session, totals: dict[CountKey, list[int]]) -> int:
    """Add to the count rows. A few rows (one submission: 12) with one upsert each
    (INSERT ... ON CONFLICT DO UPDATE, SQLite and PostgreSQL alike: plain sums need no
    read); many (an import, the demo) by reading the existing rows and then updating them
    and inserting the new ones in bulk (COPY on PostgreSQL), which is far faster than
    thousands of single upserts."""
    ledger.lock_head(session)
    if not totals:
        return 0
    names = ("desk_id", "dimension", "grain", "period_start", "value")
    if len(totals) < bulk.COPY_FROM:
        session.execute(_UPSERT_COUNTS, [
            {**dict(zip(names, key, strict=True)), "n": n, "answers": answers,
             "score_sum": score_sum}
            for key, (n, answers, score_sum) in totals.items()])
        return len(totals)
    desk_ids = sorted({k[0] for k in totals})
    starts = sorted({k[3] for k in totals})
    key_columns = (CountRollup.desk_id, CountRollup.dimension, CountRollup.grain,
                   CountRollup.period_start, CountRollup.value)
    query = select(*key_columns, CountRollup.n, CountRollup.answers,
                   CountRollup.score_sum).where(CountRollup.desk_id.in_(desk_ids))
    query = (query.where(CountRollup.period_start.in_(starts)) if len(starts) <= 64 else
             query.where(CountRollup.period_start.between(starts[0], starts[-1])))
    existing = {tuple(r[:5]): r[5:] for r in session.execute(query) if tuple(r[:5]) in totals}
    updates, inserts = [], []
    for key, (n, answers, score_sum) in totals.items():
        if key in existing:
            old_n, old_answers, old_sum = existing[key]
            updates.append({**{"key_" + name: v for name, v in zip(names, key, strict=True)},
                            "new_n": old_n + n, "new_answers": old_answers + answers,
                            "new_score_sum": old_sum + score_sum})
        else:
            inserts.append((*key, n, answers, score_sum))
    if updates:
        session.execute(_UPDATE_COUNTS, updates)
    if inserts:
        bulk.insert_rows(session, CountRollup.__table__,
                         (*names, "n", "answers", "score_sum"), inserts)
    return len(totals)


_UPDATE_COUNTS = _update_by_key(CountRollup.__table__,
                                ("desk_id", "dimension", "grain", "period_start", "value"),
                                ("n", "answers", "score_sum"))


def _upsert_counts():
    """INSERT ... ON CONFLICT DO UPDATE (SQLite 3.24+ and PostgreSQL alike) as text: the
    dialects' insert() with on_conflict_do_update has no cache key, so SQLAlchemy
    compiled it afresh on every submission; a text() statement is compiled once."""
    table = CountRollup.__table__
    keys = [c.name for c in table.primary_key]
    names = [*keys, "n", "answers", "score_sum"]
    statement = text(
        f"INSERT INTO {table.name} ({', '.join(names)}) "
        f"VALUES ({', '.join(':' + n for n in names)}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
        + ", ".join(f"{n} = {table.name}.{n} + excluded.{n}"
                    for n in ("n", "answers", "score_sum")))
    return statement.bindparams(*(bindparam(n, type_=table.c[n].type) for n in names))


_UPSERT_COUNTS = _upsert_counts()


def period_filter(start: date, end: date, table=StatsRollup):
    """Rows covering [start, end]: whole months from grain M, the rest from grain D."""
    months, days = split_period(start, end)
    clauses = []
    if months:
        clauses.append(and_(table.grain == "M", table.period_start.in_(months)))
    for first, last in days:
        clauses.append(and_(table.grain == "D", table.period_start.between(first, last)))
    return or_(*clauses) if clauses else table.grain == "never"


def split_period(start: date, end: date) -> tuple[list[date], list[tuple[date, date]]]:
    """Whole calendar months inside [start, end], and the leftover day ranges."""
    months: list[date] = []
    days: list[tuple[date, date]] = []
    cursor = start.replace(day=1)
    while cursor <= end:
        last = month_end(cursor)
        if start <= cursor and last <= end:
            months.append(cursor)
        else:
            days.append((max(cursor, start), min(last, end)))
        cursor = add_months(cursor, 1)
    return months, days
