"""IKM results from the database, at scale. Run: ``.venv/bin/python benchmarks/engine.py``

1,000,000 responses over 500 desks in 50 agencies, all submitted in semester 2024-S1
(1 January - 30 June 2024), in SQLite and in PostgreSQL:

(a) every desk and agency result of the semester (550 results with intervals) with
    ``compute_groups`` from the rollups, database reads included (goal < 0.2 s);
(b) the same from raw rows (``use_rollups=False``): what the rollups buy;
(c) samplics 0.6.1 on the same responses (in memory) for the same 550 estimates, side by
    side, largest relative difference of point and SE; and one national-scale estimate
    (one agency, 2,000 desks as strata, 5,000,000 responses) from the rollups vs samplics;
(d) ``ikm compute`` on a 1,000,000-row CSV in the export format, whole process
    (goal < 3 s);
(e) the cost of keeping the rollups in the submit transaction: ``record_responses`` in
    one write transaction per response with all rollups, with the statistics rollups only,
    and with none (the rollup functions replaced by no-ops).

The databases are built through the application's schema (``db.create_all``, the seeded
standards, agencies/desks/services/volumes through ``survey.core.org``). The 1M raw
responses and their answers are bulk-loaded (executemany on SQLite, COPY on PostgreSQL;
no hash-chain entries), then ``rollups.rebuild`` computes the rollups exactly as the app
keeps them, and the benchmark checks rollups == raw rows. Databases are cached in
benchmarks/out/ (SQLite files) and in PostgreSQL databases bench_engine*; ``--rebuild``
rebuilds them. Exit status 1 when a correctness check fails.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import benchlib
from benchlib import OUT, median, ms, percentile, table
from sqlalchemy import func, select, text

from survey import create_app
from survey.core import org as org
from survey.core import rollups
from survey.core.db import db, write_transaction
from survey.core.models import (
    AGE_BANDS,
    EDUCATIONS,
    OCCUPATIONS,
    SEXES,
    Agency,
    Desk,
    Element,
    Questionnaire,
    Response,
    Service,
    StatsRollup,
)
from survey.core.periods import parse_period
from survey.core.responses import NewResponse, record_responses
from survey.core.results import queries
from survey.core.seed import seed_standards
from survey.ikm.engine import Estimate, GroupResult
from survey.ikm.stats import reduce_rows

SEMESTER = parse_period("2024-S1")
PARTIAL = parse_period("2024-01-15..2024-06-14")  # 4 whole months + 2 partial ones
FIRST_DAY = SEMESTER.start
DAYS = SEMESTER.days  # 182 (2024 is a leap year)
MONTHS = SEMESTER.months()
UTC_OFFSET = timedelta(hours=7)  # Asia/Jakarta, the agencies' zone
CHANNELS = ("qr", "kiosk", "ticket", "paper")
COMMENTS = ("Pelayanan cepat, ramah", 'Antrean "lama" sekali', "Petugas membantu\nterima "
            "kasih", "ok")
STRATIFIED_SHARE = 0.8  # 40 of 50 agencies know their desks' populations
TOLERANCE = 1e-9


# --- Synthetic responses --------------------------------------------------------------------


@dataclass
class Data:
    """Responses as columns, in submission order (ids 1..n). ``y`` holds scores 1..4 with 0
    for a blank; ``pops`` the monthly service population per desk (-1: not recorded)."""

    agencies: int
    desks: int  # per agency
    desk: np.ndarray  # global desk index 0..agencies*desks-1
    day: np.ndarray  # 0..DAYS-1
    hour: np.ndarray  # local hour
    channel: np.ndarray  # index into CHANNELS
    service: np.ndarray  # 0 = none, 1.. = the agency's services
    flagged: np.ndarray
    profile: dict[str, np.ndarray]  # index into (None, *choices)
    comment: np.ndarray  # 0 = none, k = COMMENTS[k - 1]
    y: np.ndarray
    pops: np.ndarray  # (desks, months), -1 = unknown
    stratified: np.ndarray  # per agency
    # The calendar the columns refer to: day 0 is first_day, pops' months are these.
    first_day: date = FIRST_DAY
    n_days: int = DAYS
    months: tuple[date, ...] = tuple(MONTHS)

    @property
    def n(self) -> int:
        return int(self.desk.shape[0])

    def semester_population(self, s: int) -> int | None:
        return int(self.pops[s].sum()) if self.stratified[s // self.desks] else None


def synthetic(rows: int, agencies: int, desks: int, seed: int, *, web_only: bool = False,
              stratified_share: float = STRATIFIED_SHARE) -> Data:
    """Unequal desk sizes (lognormal), desk-specific answer distributions, answers spread
    over the semester's days and opening hours. Unless ``web_only``: 80% QR, 5% kiosk, 10%
    one-time ticket (verified), 5% paper with 10% blank answers; 4% of QR/kiosk responses
    flagged; 90% name one of the agency's two services; profile fields and some comments.
    ``web_only``: every response a clean QR response with all nine answers."""
    rng = np.random.default_rng(seed)
    strata = agencies * desks
    sizes = rng.lognormal(0, 0.6, strata)
    floor = max(2, min(20, rows // (5 * strata)))  # every desk has a few respondents
    sizes = np.maximum(np.round(sizes / sizes.sum() * rows).astype(np.int64), floor)
    sizes[np.argmax(sizes)] += rows - sizes.sum()
    desk = np.repeat(np.arange(strata), sizes)
    probs = rng.dirichlet([1, 2, 8, 6], size=strata)
    y = np.ones((rows, 9), dtype=np.int8)
    for start in range(0, rows, 1_000_000):  # bounded memory at national scale
        part = slice(start, min(start + 1_000_000, rows))
        cum = probs.cumsum(axis=1)[desk[part]]
        u = rng.random((cum.shape[0], 9))
        y[part] += (u[:, :, None] > cum[:, None, :3]).sum(axis=2, dtype=np.int8)
    day = rng.integers(0, DAYS, rows)
    hour = rng.integers(8, 16, rows)
    if web_only:
        channel = np.zeros(rows, dtype=np.int64)
        service = np.zeros(rows, dtype=np.int64)
        flagged = np.zeros(rows, dtype=bool)
        profile = {k: np.zeros(rows, dtype=np.int64) for k in ("sex", "age", "education",
                                                                "occupation")}
        comment = np.zeros(rows, dtype=np.int64)
    else:
        channel = rng.choice(4, size=rows, p=[0.80, 0.05, 0.10, 0.05])
        paper = channel == 3
        y[paper[:, None] & (rng.random((rows, 9)) < 0.10)] = 0
        service = rng.choice(3, size=rows, p=[0.10, 0.45, 0.45])
        flagged = (channel <= 1) & (rng.random(rows) < 0.04)
        profile = {name: rng.integers(0, len(choices) + 1, rows)
                   for name, choices in (("sex", SEXES), ("age", AGE_BANDS),
                                         ("education", EDUCATIONS),
                                         ("occupation", OCCUPATIONS))}
        comment = np.where(rng.random(rows) < 0.05, rng.integers(1, len(COMMENTS) + 1, rows), 0)
    order = np.lexsort((hour, day))  # chronological, as a live system assigns ids
    month_of_day = np.array([(FIRST_DAY + timedelta(days=d)).month - 1 for d in range(DAYS)])
    month = month_of_day[day]
    per_month = np.bincount(desk * len(MONTHS) + month, minlength=strata * len(MONTHS))
    per_month = per_month.reshape(strata, len(MONTHS))
    stratified = np.arange(agencies) < round(agencies * stratified_share)
    pops = np.round(per_month * rng.uniform(1.5, 12, per_month.shape)).astype(np.int64)
    pops[~np.repeat(stratified, desks)] = -1
    return Data(agencies, desks, desk[order], day[order], hour[order], channel[order],
                service[order], flagged[order], {k: v[order] for k, v in profile.items()},
                comment[order], y[order], pops, stratified)


def agency_code(a: int) -> str:
    return f"AG{a + 1:02d}"


def desk_code(d: int) -> str:
    return f"L{d + 1:04d}"


# --- Building a database through the application --------------------------------------------


@dataclass
class Target:
    """One database of the benchmark: a SQLite file or a PostgreSQL database."""

    backend: str  # "SQLite" | "PostgreSQL"
    name: str

    @property
    def sqlite_path(self) -> Path:
        return OUT / f"{self.name}.sqlite"

    @property
    def uri(self) -> str:
        if self.backend == "SQLite":
            return f"sqlite:///{self.sqlite_path}"
        return benchlib.pg_url(self.name)

    @property
    def meta_path(self) -> Path:
        return OUT / f"{self.name}.{self.backend.lower()}.json"

    def reset(self) -> None:
        if self.backend == "SQLite":
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.sqlite_path) + suffix).unlink(missing_ok=True)
        else:
            benchlib.pg_recreate(self.name)
        self.meta_path.unlink(missing_ok=True)

    def exists(self) -> bool:
        if self.backend == "SQLite":
            return self.sqlite_path.exists()
        return benchlib.pg_exists(self.name)

    def size(self) -> int:
        """Bytes on disk (SQLite: the file and its WAL; PostgreSQL: the database)."""
        if self.backend == "SQLite":
            return sum(Path(str(self.sqlite_path) + s).stat().st_size
                       for s in ("", "-wal") if Path(str(self.sqlite_path) + s).exists())
        from sqlalchemy import create_engine

        engine = create_engine(self.uri)
        try:
            with engine.connect() as conn:
                return int(conn.scalar(text("SELECT pg_database_size(current_database())")))
        finally:
            engine.dispose()


def make_app(target: Target, instance: Path):
    return create_app({"SQLALCHEMY_DATABASE_URI": target.uri, "SECRET_KEY": "x" * 32,
                       "TESTING": True, "INSTANCE_PATH": str(instance)})


@dataclass
class Org:
    """Ids the application assigned: desk ids by global desk index, services per agency."""

    questionnaire_id: int
    element_ids: list[int]  # by position
    desk_ids: list[int]
    service_ids: list[list[int]]  # [agency][k]


def create_org(data: Data, prefix: str = "") -> Org:
    """Agencies, desks, two services per agency and monthly volumes, through the admin
    services (as `flask agency/desk/service/volume` do)."""
    session = db.session
    desk_ids: list[int] = []
    service_ids: list[list[int]] = []
    for a in range(data.agencies):
        code = prefix + agency_code(a)
        org.create_agency(session, code, f"Instansi {code}")
        desks = [org.create_desk(session, code, desk_code(d), f"Loket {d + 1}")
                 for d in range(data.desks)]
        desk_ids.extend(d.id for d in desks)
        if data.service.any():
            service_ids.append([
                org.create_service(session, code, f"S{k}", f"Layanan {k}",
                                   desk_codes=[d.code for d in desks]).id for k in (1, 2)])
        else:
            service_ids.append([])
        if data.stratified[a]:
            for d, desk in enumerate(desks):
                for m, month in enumerate(data.months):
                    org.set_volume(session, desk, "month", month,
                                   int(data.pops[a * data.desks + d, m]))
    session.commit()
    questionnaire = session.scalar(select(Questionnaire).where(
        Questionnaire.code == "permenpan-14-2017"))
    element_ids = [e.id for e in questionnaire.elements]
    return Org(questionnaire.id, element_ids, desk_ids, service_ids)


def _response_tuples(data: Data, ids: Org, rows: np.ndarray) -> Iterator[list[tuple]]:
    """The response rows (Python values, as the ORM would bind them), in chunks."""
    days = [data.first_day + timedelta(days=d) for d in range(data.n_days)]
    moments = {(d, h): datetime(days[d].year, days[d].month, days[d].day, h, tzinfo=UTC)
               - UTC_OFFSET for d in range(data.n_days) for h in range(24)}
    choices = {"sex": SEXES, "age": AGE_BANDS, "education": EDUCATIONS,
               "occupation": OCCUPATIONS}
    options = {k: (None, *v) for k, v in choices.items()}
    desk_ids = np.array(ids.desk_ids)
    flags = ("burst", "too_fast")
    for start in range(0, rows.shape[0], 100_000):
        part = rows[start:start + 100_000]
        out = []
        columns = zip(
            (part + 1).tolist(), data.desk[part].tolist(), data.day[part].tolist(),
            data.hour[part].tolist(), data.channel[part].tolist(),
            data.service[part].tolist(), data.flagged[part].tolist(),
            *(data.profile[k][part].tolist() for k in choices),
            data.comment[part].tolist(), strict=True)
        for rid, s, d, h, ch, sv, fl, sex, age, edu, occ, cm in columns:
            channel = CHANNELS[ch]
            out.append((
                rid, int(desk_ids[s]), ids.service_ids[s // data.desks][sv - 1] if sv else None,
                ids.questionnaire_id, moments[(d, h)], days[d], h, channel,
                channel == "ticket", flags[rid % 2] if fl else "", options["sex"][sex],
                options["age"][age], options["education"][edu], options["occupation"][occ],
                COMMENTS[cm - 1] if cm else None,
                f"bench-{rid:016d}" if channel in ("qr", "kiosk") else None))
        yield out


RESPONSE_COLUMNS = ("id", "desk_id", "service_id", "questionnaire_id", "submitted_at", "day",
                    "hour", "channel", "verified", "flags", "sex", "age", "education",
                    "occupation", "comment", "idempotency_key")


def bulk_load(data: Data, ids: Org, rows: np.ndarray | None = None) -> None:
    """Insert responses (ids 1..n, or the given row numbers) and their answers with the
    driver's bulk path; values are bound exactly as SQLAlchemy binds them."""
    rows = np.arange(data.n) if rows is None else rows
    dialect = db.engine.dialect
    raw = db.engine.raw_connection()
    try:
        driver = raw.driver_connection
        if dialect.name == "sqlite":
            table_cols = Response.__table__.c
            procs = [table_cols[c].type.bind_processor(dialect) for c in RESPONSE_COLUMNS]
            sql = (f"INSERT INTO response ({', '.join(RESPONSE_COLUMNS)}) VALUES "
                   f"({', '.join('?' * len(RESPONSE_COLUMNS))})")
            cursor = driver.cursor()
            cursor.execute("BEGIN")
            for chunk in _response_tuples(data, ids, rows):
                cursor.executemany(sql, [
                    tuple(p(v) if p is not None and v is not None else v
                          for p, v in zip(procs, r, strict=True)) for r in chunk])
            for rid, eid, qid, score in _answer_chunks(data, ids, rows):
                cursor.executemany(
                    "INSERT INTO answer (response_id, element_id, questionnaire_id, score) "
                    "VALUES (?, ?, ?, ?)",
                    zip(rid.tolist(), eid.tolist(), [qid] * rid.shape[0], score.tolist(),
                        strict=True))
            cursor.execute("COMMIT")
        else:
            with driver.cursor() as cursor:
                with cursor.copy(f"COPY response ({', '.join(RESPONSE_COLUMNS)}) "
                                 "FROM STDIN") as copy:
                    for chunk in _response_tuples(data, ids, rows):
                        for r in chunk:
                            copy.write_row(r)
                with cursor.copy("COPY answer (response_id, element_id, questionnaire_id, "
                                 "score) FROM STDIN") as copy:
                    for rid, eid, qid, score in _answer_chunks(data, ids, rows):
                        copy.write("".join(map(f"{{}}\t{{}}\t{qid}\t{{}}\n".format,
                                               rid.tolist(), eid.tolist(), score.tolist())))
                cursor.execute("SELECT setval(pg_get_serial_sequence('response', 'id'), "
                               "(SELECT max(id) FROM response))")
            driver.commit()
    finally:
        raw.close()


def _answer_chunks(data: Data, ids: Org, rows: np.ndarray
                   ) -> Iterator[tuple[np.ndarray, np.ndarray, int, np.ndarray]]:
    elements = np.array(ids.element_ids)
    for start in range(0, rows.shape[0], 200_000):
        part = rows[start:start + 200_000]
        y = data.y[part]
        given = y > 0
        rid = np.repeat(part + 1, 9).reshape(-1, 9)[given]
        eid = np.broadcast_to(elements, y.shape)[given]
        yield rid, eid, ids.questionnaire_id, y[given]


def analyze() -> None:
    if db.engine.dialect.name == "sqlite":
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    else:
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


def table_rows() -> dict[str, int]:
    """Rows of the response, statistics-rollup and count-rollup tables (when present)."""
    out = {}
    for name in ("response", "answer", "stats_rollup", "count_rollup"):
        if name in db.metadata.tables:
            out[name] = int(db.session.scalar(select(func.count()).select_from(
                db.metadata.tables[name])))
    db.session.close()
    return out


def schema_hash() -> str:
    """A hash of the application's tables (their DDL): a cached database built with another
    schema is rebuilt. Changes in how rollups are computed are caught by the checks."""
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateTable

    ddl = "".join(str(CreateTable(t).compile(dialect=sqlite.dialect()))
                  for t in db.metadata.sorted_tables)
    return hashlib.sha256(ddl.encode()).hexdigest()[:16]


def cached(target: Target, params: dict[str, Any], rebuild: bool,
           build: Callable[[], dict[str, Any]], app) -> dict[str, Any]:
    """Build the target unless a build with the same parameters and code is cached."""
    params = {**params, "schema": schema_hash()}
    if not rebuild and target.exists() and target.meta_path.exists():
        meta = json.loads(target.meta_path.read_text())
        if meta.get("params") == params:
            with app.app_context():
                count = db.session.scalar(select(func.count()).select_from(Response))
            if count == meta["responses"]:
                with app.app_context():
                    # Indexes added to the models since the build (the hash covers the
                    # tables only): create them, so the cache measures today's schema.
                    for table in db.metadata.sorted_tables:
                        for index in table.indexes:
                            index.create(db.engine, checkfirst=True)
                meta["cached"] = True
                return meta
    print(f"  building {target.backend} database {target.name} ...", flush=True)
    target.reset()
    with app.app_context():
        db.engine.dispose()
        meta = build()
        db.session.remove()
        db.engine.dispose()
    meta["params"] = params
    target.meta_path.write_text(json.dumps(meta, indent=1))
    meta["cached"] = False
    return meta


def build_main(data: Data) -> dict[str, Any]:
    """The 1M-response database: schema, organisation, bulk load, rollups.rebuild."""
    db.create_all()
    seed_standards(db.session)
    db.session.commit()
    t0 = time.perf_counter()
    ids = create_org(data)
    t_org = time.perf_counter() - t0
    t0 = time.perf_counter()
    bulk_load(data, ids)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    with write_transaction(db.session):
        rollup_rows = rollups.rebuild(db.session)
    t_rebuild = time.perf_counter() - t0
    analyze()
    return {"responses": data.n, "org_s": t_org, "load_s": t_load, "rebuild_s": t_rebuild,
            "rollup_rows_written": rollup_rows}


def build_national(data: Data, sample: np.ndarray) -> dict[str, Any]:
    """One agency with many desks: rollup rows computed from the in-memory responses with
    the app's own reduction and layout (reduce_rows, to_flat, rollups.encode), clean scope
    only, daily and monthly grain; raw responses loaded only for the sample desks."""
    db.create_all()
    seed_standards(db.session)
    db.session.commit()
    t0 = time.perf_counter()
    ids = create_org(data, prefix="NAS-")
    t_org = time.perf_counter() - t0
    t0 = time.perf_counter()
    month_of_day = np.array([(FIRST_DAY + timedelta(days=d)).month - 1 for d in range(DAYS)])
    rows: list[dict] = []
    n_rollups = 0
    for grain, key, starts in (
        ("D", data.desk * DAYS + data.day, [FIRST_DAY + timedelta(days=d) for d in range(DAYS)]),
        ("M", data.desk * len(MONTHS) + month_of_day[data.day], MONTHS),
    ):
        per = len(starts)
        for k, stats in reduce_rows(key, data.y).items():
            rows.append({"desk_id": ids.desk_ids[k // per], "scope": "clean", "grain": grain,
                         "period_start": starts[k % per],
                         "questionnaire_id": ids.questionnaire_id, "service_id": 0,
                         "n": stats.n, "stats": rollups.encode(np.asarray(stats.to_flat()))})
            if len(rows) == 20_000:
                db.session.execute(StatsRollup.__table__.insert(), rows)
                n_rollups += len(rows)
                rows = []
    if rows:
        db.session.execute(StatsRollup.__table__.insert(), rows)
        n_rollups += len(rows)
    db.session.commit()
    t_rollups = time.perf_counter() - t0
    t0 = time.perf_counter()
    bulk_load(data, ids, np.flatnonzero(np.isin(data.desk, sample)))
    t_load = time.perf_counter() - t0
    analyze()
    return {"responses": int(np.isin(data.desk, sample).sum()), "org_s": t_org,
            "rollups_s": t_rollups, "load_s": t_load, "rollup_rows_written": n_rollups}


# --- Checks ------------------------------------------------------------------------------------


@dataclass
class Checks:
    """Correctness checks: name -> (passed, detail)."""

    items: list[tuple[str, bool, str]] = field(default_factory=list)

    def add(self, name: str, passed: bool, detail: str = "") -> None:
        self.items.append((name, passed, detail))
        if not passed:
            print(f"  CHECK FAILED: {name} {detail}", flush=True)

    @property
    def ok(self) -> bool:
        return all(p for _, p, _ in self.items)


def stats_equal(a: dict, b: dict) -> tuple[bool, str]:
    if a.keys() != b.keys():
        return False, f"keys differ: {sorted(set(a) ^ set(b))[:5]}"
    bad = [k for k in a if a[k] != b[k]]
    return not bad, f"{len(bad)} of {len(a)} differ" if bad else f"{len(a)} strata equal"


def check_rollups(data: Data, ids: Org, checks: Checks, label: str, sample: Sequence[int],
                  scopes: Sequence[str] = ("clean", "verified", "flagged")) -> None:
    """Rollups == raw rows (the app's own raw path) on sample desks, for the semester (monthly
    rows) and a range with partial months (daily rows); and rollups == the in-memory data
    for every desk (so samplics sees the database's responses)."""
    session = db.session
    sample_ids = [ids.desk_ids[s] for s in sample]
    for period in (SEMESTER, PARTIAL):
        for scope in scopes:
            ok, detail = stats_equal(
                queries.desk_statistics(session, sample_ids, period.start, period.end, scope),
                queries.raw_desk_statistics(session, sample_ids, period.start, period.end,
                                            scope))
            checks.add(f"{label}: desk_statistics == raw_desk_statistics ({period.key}, "
                       f"{scope}, {len(sample)} desks)", ok, detail)
    clean = ~data.flagged
    expected = reduce_rows(data.desk[clean], data.y[clean])
    got = queries.desk_statistics(session, ids.desk_ids, SEMESTER.start, SEMESTER.end)
    position = {desk_id: s for s, desk_id in enumerate(ids.desk_ids)}
    by_index = {position[k[0]]: v for k, v in got.items()}
    ok, detail = stats_equal(by_index, expected)
    checks.add(f"{label}: rollups == generated responses (all desks, clean)", ok, detail)


def load_org(data: Data, prefix: str = "") -> Org:
    session = db.session
    codes = [prefix + agency_code(a) for a in range(data.agencies)]
    agencies = {a.code: a for a in session.scalars(select(Agency).where(Agency.code.in_(codes)))}
    desk_ids, service_ids = [], []
    for code in codes:
        agency = agencies[code]
        desks = {d.code: d.id for d in session.scalars(
            select(Desk).where(Desk.agency_id == agency.id))}
        desk_ids.extend(desks[desk_code(d)] for d in range(data.desks))
        services = {s.code: s.id for s in session.scalars(
            select(Service).where(Service.agency_id == agency.id))}
        service_ids.append([services[k] for k in ("S1", "S2") if k in services])
    questionnaire = session.scalar(select(Questionnaire).where(
        Questionnaire.code == "permenpan-14-2017"))
    element_ids = list(session.scalars(select(Element.id).where(
        Element.questionnaire_id == questionnaire.id).order_by(Element.position)))
    return Org(questionnaire.id, element_ids, desk_ids, service_ids)


# --- Measurements --------------------------------------------------------------------------


def timed(fn: Callable[[], Any], repeat: int, warmup: int = 1) -> tuple[list[float], Any]:
    """Run fn warmup + repeat times, each in a fresh read transaction; the repeat timings.
    (close(), not rollback(): objects loaded before stay loaded, as within one request.)"""
    result = None
    times = []
    for i in range(warmup + repeat):
        db.session.close()
        t0 = time.perf_counter()
        result = fn()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    db.session.close()
    return times, result


def split_timings(session: Any, scopes: list[queries.AgencyScope], period: Any,
                  repeat: int) -> dict[str, list[float]]:
    """Where (a) spends its time: the rollup read, the populations, the engine."""
    from survey.ikm.engine import estimate_groups

    desk_ids = sorted({d.id for s in scopes for d in s.desks})
    groups: dict[str, dict] = {}
    pops: dict[str, dict] = {}
    stats = queries.desk_statistics(session, desk_ids, period.start, period.end)
    pop = queries.populations(session, desk_ids, period.start, period.end)
    for s in scopes:
        groups[s.agency.code] = {d.key: stats[(d.id, d.questionnaire_id)] for d in s.desks
                                 if (d.id, d.questionnaire_id) in stats}
        pops[s.agency.code] = {d.key: pop.get(d.id) for d in s.desks}
    standard = scopes[0].questionnaire.standard
    return {
        "statistics from rollups (desk_statistics)": timed(
            lambda: queries.desk_statistics(session, desk_ids, period.start, period.end),
            repeat)[0],
        "populations (service volumes)": timed(
            lambda: queries.populations(session, desk_ids, period.start, period.end),
            repeat)[0],
        "engine (estimate_groups)": timed(
            lambda: estimate_groups(groups, pops, standard), repeat)[0],
    }


PARENT = "MPP"  # a Mal Pelayanan Publik grouping the 50 agencies, for the dashboard timing


def dashboard_timings(codes: Sequence[str], period: Any, repeat: int, checks: Checks,
                      label: str) -> dict[str, list[float]]:
    """Time what the agency dashboard page assembles (survey.core.results.dashboard.build: the
    index, verified/all variants, desks, services, a 6-period trend, arrivals, profile,
    review queue, children) for one agency and for a parent over all 50 agencies. The
    parent is added to the cached database on first use (it changes no other result)."""
    try:
        from survey.core.results import dashboard as dashboard
    except ImportError:
        return {}
    session = db.session
    parent = session.scalar(select(Agency).where(Agency.code == PARENT))
    if parent is None:
        parent = org.create_agency(session, PARENT, "Mal Pelayanan Publik (benchmark)")
    for agency in session.scalars(select(Agency).where(Agency.code.in_(list(codes)))):
        if agency.parent_id != parent.id:
            agency.parent_id = parent.id
    session.commit()
    out = {}
    for name, code in ((f"{codes[0]}: 10 desks", codes[0]),
                       (f"{PARENT}: 50 agencies, 500 desks", PARENT)):
        def build(code: str = code) -> Any:
            agency = session.scalar(select(Agency).where(Agency.code == code))
            return dashboard.build(session, agency, period)
        try:
            first, _ = timed(build, 1, warmup=1)
            # Runs of many seconds are measured once: the warm-up already took the imports.
            out[name] = first if first[0] > 5 else first + timed(build, repeat - 1, 0)[0]
        except Exception as exc:  # the dashboard is optional for this benchmark
            checks.add(f"{label}: dashboard.services.build runs", False, repr(exc)[:300])
    return out


def scopes_for(codes: Sequence[str]) -> list[queries.AgencyScope]:
    """The agencies' scopes, with the app's batch call when it has one."""
    agencies = sorted(db.session.scalars(select(Agency).where(Agency.code.in_(codes))).all(),
                      key=lambda a: a.code)
    batch = getattr(queries, "agency_scopes", None)
    if batch is not None:
        return batch(db.session, agencies)
    return [queries.agency_scope(db.session, a) for a in agencies]


def count_results(results: dict[str, GroupResult]) -> int:
    return sum((g.estimate is not None) + len(g.desks) for g in results.values())


def results_equal(a: dict[str, GroupResult], b: dict[str, GroupResult]) -> float:
    """Largest relative difference over index, SE, intervals and element NRR/SE."""
    if a.keys() != b.keys():
        return float("inf")
    worst = 0.0
    for code, ga in a.items():
        gb = b[code]
        if ga.desks.keys() != gb.desks.keys():
            return float("inf")
        pairs = [(ga.estimate, gb.estimate)] + [(ga.desks[d], gb.desks[d]) for d in ga.desks]
        for ea, eb in pairs:
            if ea is None or eb is None:
                if ea is not eb:
                    return float("inf")
                continue
            worst = max(worst, *(_rel(x, z) for x, z in zip(_numbers(ea), _numbers(eb),
                                                            strict=True)))
    return worst


def _numbers(e: Estimate) -> list[float]:
    out = [e.n, e.ikm, e.se, *e.ci, *(e.ci_t or ())]
    for el in e.elements:
        out += [el.n, el.nrr, el.se, *el.ci]
    return out


def _rel(a: float, b: float) -> float:
    return 0.0 if a == b else abs(a - b) / max(abs(b), 1e-300)


@dataclass
class BackendRun:
    backend: str
    meta: dict[str, Any]
    national_meta: dict[str, Any] | None = None
    a: list[float] = field(default_factory=list)
    a_scopes: list[float] = field(default_factory=list)
    a_partial: list[float] = field(default_factory=list)
    a_one: list[float] = field(default_factory=list)
    split: dict[str, list[float]] = field(default_factory=dict)
    dashboard: dict[str, list[float]] = field(default_factory=dict)
    b: list[float] = field(default_factory=list)
    national: list[float] = field(default_factory=list)
    n_results: int = 0
    n_national: int = 0
    results: dict[str, GroupResult] = field(default_factory=dict)
    results_all: dict[str, GroupResult] = field(default_factory=dict)
    national_result: GroupResult | None = None
    submit: dict[str, list[float]] = field(default_factory=dict)


def run_main(target: Target, data: Data, args: argparse.Namespace, checks: Checks,
             instance: Path) -> BackendRun:
    app = make_app(target, instance)
    params = {"rows": data.n, "agencies": data.agencies, "desks": data.desks, "seed": args.seed}
    meta = cached(target, params, args.rebuild, lambda: build_main(data), app)
    run = BackendRun(target.backend, meta)
    label = target.backend
    with app.app_context():
        run.meta.update(table_rows())
        ids = load_org(data)
        session = db.session
        sample = list(range(0, data.agencies * data.desks, max(1, data.agencies * data.desks
                                                                // args.sample_desks)))
        if not args.skip_checks:
            check_rollups(data, ids, checks, label, sample[:args.sample_desks])
        codes = [agency_code(a) for a in range(data.agencies)]
        scopes = scopes_for(codes)
        period = SEMESTER
        run.a, run.results = timed(lambda: queries.compute_groups(session, scopes, period),
                                   args.repeat)
        run.n_results = count_results(run.results)
        run.a_scopes, _ = timed(
            lambda: queries.compute_groups(session, scopes_for(codes), period), args.repeat)
        run.a_partial, _ = timed(lambda: queries.compute_groups(session, scopes, PARTIAL),
                                 args.repeat)
        one = scopes[:1]
        run.a_one, _ = timed(lambda: queries.compute_groups(session, one, period), args.repeat)
        run.split = split_timings(session, scopes, period, args.repeat)
        run.dashboard = dashboard_timings(codes, period, args.dashboard_repeat, checks, label)
        _, run.results_all = timed(
            lambda: queries.compute_groups(session, scopes, period, scope="all"), 1, 0)
        if args.raw_repeat:
            print(f"  {label}: (b) from raw rows ...", flush=True)
            run.b, raw = timed(lambda: queries.compute_groups(session, scopes, period,
                                                              use_rollups=False),
                               args.raw_repeat, warmup=0)
            diff = results_equal(run.results, raw)
            checks.add(f"{label}: results from rollups == results from raw rows "
                       f"({count_results(raw)} results)", diff == 0.0,
                       f"max relative difference {diff:.1e}")
        db.session.remove()
        db.engine.dispose()
    run.meta["size"] = target.size()
    return run


def run_national(target: Target, data: Data, args: argparse.Namespace, checks: Checks,
                 instance: Path, run: BackendRun) -> None:
    app = make_app(target, instance)
    sample = np.arange(0, data.desks, max(1, data.desks // 10))[:10]
    params = {"rows": data.n, "desks": data.desks, "seed": args.seed + 1,
              "sample": sample.tolist()}
    run.national_meta = cached(target, params, args.rebuild,
                               lambda: build_national(data, sample), app)
    with app.app_context():
        run.national_meta.update(table_rows())
        ids = load_org(data, prefix="NAS-")
        if not args.skip_checks:
            check_rollups(data, ids, checks, f"{target.backend} national", sample.tolist(),
                          scopes=("clean",))
        scope = scopes_for(["NAS-" + agency_code(0)])
        run.national, result = timed(
            lambda: queries.compute_groups(db.session, scope, SEMESTER), args.repeat)
        run.national_result = result["NAS-" + agency_code(0)]
        run.n_national = count_results(result)
        db.session.remove()
        db.engine.dispose()
    run.national_meta["size"] = target.size()


# --- samplics -------------------------------------------------------------------------------


def samplics_550(data: Data, results: dict[str, GroupResult]) -> tuple[float, float, dict]:
    """samplics on the clean responses, for every agency and desk result: per result nine
    ratio estimators (element NRR and SE) and one total of the index's linearised variable
    (index SE); returns (time of all calls, time of the index calls alone, worst relative
    differences)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import samplics
    from scipy.stats import t as student

    c = np.full(9, 1 / 9)
    worst: dict[str, float] = {}

    def rel(key: str, ours: float, theirs: float) -> None:
        worst[key] = max(worst.get(key, 0.0), _rel(ours, theirs))

    clean = ~data.flagged
    t_all = t_index = 0.0
    for a in range(data.agencies):
        code = agency_code(a)
        sel = clean & (data.desk // data.desks == a)
        ya, sa = data.y[sel].astype(np.float64), data.desk[sel] % data.desks
        big_n = {d: data.semester_population(a * data.desks + d) for d in range(data.desks)}
        strat = bool(data.stratified[a])
        cases: list[tuple[str | None, np.ndarray]] = [(None, np.ones(len(ya), dtype=bool))]
        cases += [(desk_code(d), sa == d) for d in range(data.desks)]
        for desk, rows in cases:
            est = results[code].estimate if desk is None else results[code].desks[desk]
            yy, ss = ya[rows], sa[rows]
            n_h = np.bincount(ss, minlength=data.desks)
            if desk is None and strat:
                w = np.array([big_n[d] / n_h[d] for d in range(data.desks)])[ss]
            else:
                w = np.ones(len(yy))  # pooled, or one stratum (weights cancel)
            fpc = {d: 1 - n_h[d] / big_n[d] if big_n[d] is not None else 1.0
                   for d in np.unique(ss).tolist()}
            r = (yy > 0).astype(np.float64)
            ratios, big_x = [], []
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                refs = []
                for j in range(9):
                    ref = samplics.TaylorEstimator(samplics.PopParam.ratio)
                    ref.estimate(y=r[:, j] * yy[:, j], x=r[:, j], samp_weight=w, stratum=ss,
                                 fpc=fpc)
                    refs.append(ref)
                    ratios.append(ref.point_est)
                    big_x.append(float(np.sum(w * r[:, j])))
                rr, bx = np.array(ratios), np.array(big_x)
                z = (w[:, None] * r * (yy - rr[None, :]) / bx[None, :]) @ c
                t1 = time.perf_counter()
                ref = samplics.TaylorEstimator(samplics.PopParam.total)
                ref.estimate(y=(z + 1) / w, samp_weight=w, stratum=ss, fpc=fpc)
                t2 = time.perf_counter()
            t_all += t2 - t0
            t_index += t2 - t1
            for j, el_ref in enumerate(refs):
                rel("element NRR", est.elements[j].nrr, el_ref.point_est)
                rel("element SE", est.elements[j].se, el_ref.stderror)
            point = float(c @ rr)
            rel("index point", est.ikm, point)
            rel("index SE", est.se, ref.stderror)
            q = student.ppf(0.975, ref.degree_of_freedom)
            rel("index t interval", est.ci_t[0], 25 * (point - q * ref.stderror))
    return t_all, t_index, worst


def samplics_national(data: Data, result: GroupResult) -> tuple[float, dict]:
    """One samplics call for the national index: with every element answered, the index is
    the weighted mean of the respondents' mean scores, so one stratified TaylorEstimator
    (mean) over 5,000,000 rows and 2,000 strata gives its point and SE."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import samplics
    est = result.estimate
    assert est is not None and (data.y > 0).all()
    n_h = np.bincount(data.desk, minlength=data.desks)
    big_n = np.array([data.semester_population(d) for d in range(data.desks)], dtype=float)
    w = (big_n / n_h)[data.desk]
    fpc = {d: 1 - n_h[d] / big_n[d] for d in range(data.desks)}
    rowmean = data.y.mean(axis=1, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        ref = samplics.TaylorEstimator(samplics.PopParam.mean)
        ref.estimate(y=rowmean, samp_weight=w, stratum=data.desk, fpc=fpc)
        elapsed = time.perf_counter() - t0
    return elapsed, {"index point": _rel(est.ikm, ref.point_est),
                     "index SE": _rel(est.se, ref.stderror)}


# --- ikm compute on a CSV -------------------------------------------------------------------

_FILL = 0xFF  # never in the output: cells are padded with it, then it is removed


def _choices(options: Sequence[bytes], index: np.ndarray) -> np.ndarray:
    width = max(max(len(o) for o in options), 1)
    lookup = np.full((len(options), width), _FILL, dtype=np.uint8)
    for k, o in enumerate(options):
        lookup[k, :len(o)] = np.frombuffer(o, np.uint8)
    return lookup[index]


def write_export_csv(path: Path, data: Data) -> None:
    """Every response as the system's export would list it: response_id, submitted_at,
    agency, desk, service, channel, U1..U9, verified, flagged, profile, comment (quoted
    when it holds a comma, quote or line break); built as bytes with numpy."""
    n = data.n
    zero = np.zeros(n, dtype=np.int64)

    def lit(value: bytes) -> np.ndarray:
        return _choices([value], zero)

    ids = np.arange(1, n + 1)
    digits = []
    for p in range(len(str(n)) - 1, -1, -1):
        index = (ids // 10**p) % 10
        if p:
            index = np.where(ids < 10**p, 10, index)  # no leading zeros
        digits.append(_choices([str(k).encode() for k in range(10)] + [b""], index))
    moments = [(datetime.combine(FIRST_DAY + timedelta(days=d), datetime.min.time())
                + timedelta(hours=h) - UTC_OFFSET).strftime("%Y-%m-%dT%H:00:00Z").encode()
               for d in range(DAYS) for h in range(24)]

    def quoted(value: str) -> bytes:
        if any(ch in value for ch in ',"\n'):
            return b'"' + value.replace('"', '""').encode() + b'"'
        return value.encode()

    parts = [*digits, lit(b","), _choices(moments, data.day * 24 + data.hour), lit(b","),
             _choices([agency_code(a).encode() for a in range(data.agencies)],
                      data.desk // data.desks), lit(b","),
             _choices([desk_code(d).encode() for d in range(data.desks)],
                      data.desk % data.desks), lit(b","),
             _choices([b"", b"S1", b"S2"], data.service), lit(b","),
             _choices([c.encode() for c in CHANNELS], data.channel)]
    for j in range(9):
        parts += [lit(b","), _choices([b"", b"1", b"2", b"3", b"4"], data.y[:, j])]
    parts += [lit(b","), _choices([b"0", b"1"], (data.channel == 2).astype(np.int64)),
              lit(b","), _choices([b"0", b"1"], data.flagged.astype(np.int64))]
    for name, values in (("sex", SEXES), ("age", AGE_BANDS), ("education", EDUCATIONS),
                         ("occupation", OCCUPATIONS)):
        parts += [lit(b","), _choices([b"", *(v.encode() for v in values)], data.profile[name])]
    parts += [lit(b","), _choices([b"", *(quoted(c) for c in COMMENTS)], data.comment),
              lit(b"\n")]
    flat = np.concatenate(parts, axis=1).ravel()
    header = ("response_id,submitted_at,agency,desk,service,channel,"
              + ",".join(f"U{j}" for j in range(1, 10))
              + ",verified,flagged,sex,age,education,occupation,comment\n").encode()
    path.write_bytes(header + flat[flat != _FILL].tobytes())


def write_populations_csv(path: Path, data: Data) -> None:
    lines = ["agency,desk,population"]
    for s in range(data.agencies * data.desks):
        pop = data.semester_population(s)
        if pop is not None:
            lines.append(f"{agency_code(s // data.desks)},{desk_code(s % data.desks)},{pop}")
    path.write_text("\n".join(lines) + "\n")


def ikm_compute(data: Data, repeat: int, expected: dict[str, GroupResult], checks: Checks
                ) -> tuple[list[float], int]:
    """Time `ikm compute FILE --populations POP --format json` as a whole process and
    compare its output with compute_groups(scope='all') from the database."""
    ikm = Path(sys.executable).with_name("ikm")
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        csv_path, pop_path = Path(tmp) / "responses.csv", Path(tmp) / "populations.csv"
        write_export_csv(csv_path, data)
        write_populations_csv(pop_path, data)
        size = csv_path.stat().st_size
        out = b""
        for _ in range(repeat):
            t0 = time.perf_counter()
            proc = subprocess.run([str(ikm), "compute", str(csv_path), "--populations",
                                   str(pop_path), "--format", "json"],
                                  capture_output=True, check=False)
            times.append(time.perf_counter() - t0)
            if proc.returncode != 0:
                checks.add("ikm compute exits 0", False, proc.stderr.decode()[-500:])
                return times, size
            out = proc.stdout
    payload = json.loads(out)
    worst, missing = 0.0, 0
    for row in payload["results"]:
        group = expected.get(row["agency"])
        est = None if group is None else (group.estimate if row["desk"] is None
                                          else group.desks.get(row["desk"]))
        if est is None:
            missing += 1
            continue
        ours = [est.n, est.ikm, est.se, *est.ci, *(est.ci_t or ())]
        theirs = [row["n"], row["ikm"], row["se"], *row["ci"], *(row["ci_t"] or ())]
        for el, el_row in zip(est.elements, row["elements"], strict=True):
            ours += [el.nrr, el.se_converted, *el.ci]
            theirs += [el_row["nrr"], el_row["se_converted"], *el_row["ci"]]
        worst = max(worst, *(_rel(a, b) for a, b in zip(ours, theirs, strict=True)))
    checks.add(f"ikm compute on the CSV == compute_groups(scope='all') from the database "
               f"({len(payload['results'])} results)", missing == 0 and worst <= TOLERANCE,
               f"max relative difference {worst:.1e}, {missing} missing")
    return times, size


# --- (e) rollups in the submit transaction -----------------------------------------------


def rollup_modes() -> dict[str, dict[str, Callable[..., int]]]:
    """What to replace in survey.core.rollups for each mode of (e): all rollups kept;
    the statistics rollups only (count rollups off, when the app has them); none."""

    def noop(*_args: Any, **_kwargs: Any) -> int:
        return 0

    modes: dict[str, dict[str, Callable[..., int]]] = {"all rollups": {}}
    if hasattr(rollups, "apply_counts"):
        modes["statistics rollups only"] = {"apply_counts": noop}
    entry = "add_responses" if hasattr(rollups, "add_responses") else "apply"
    modes["no rollups"] = {entry: noop}
    return modes


def submit_cost(target: Target, n: int, block: int, instance: Path) -> dict[str, list[float]]:
    """Latency of record_responses in one write transaction per response, sequentially, with
    the rollups kept and with (parts of) them replaced by a no-op, in rotating blocks, on a
    fresh small database: 5 agencies x 4 desks, 20 s between responses (rollup rows are
    mostly updates, as in steady state), 10% one-time tickets, every response with a
    service and a profile."""
    target.reset()
    app = make_app(target, instance)
    modes = rollup_modes()
    out: dict[str, list[float]] = {mode: [] for mode in modes}
    with app.app_context():
        db.create_all()
        seed_standards(db.session)
        db.session.commit()
        desk_ids, service_ids = [], {}
        for a in range(5):
            code = agency_code(a)
            org.create_agency(db.session, code, f"Instansi {code}")
            desks = [org.create_desk(db.session, code, desk_code(d), f"Loket {d + 1}")
                     for d in range(4)]
            service = org.create_service(db.session, code, "S1", "Layanan 1",
                                         desk_codes=[d.code for d in desks])
            for d in desks:
                desk_ids.append(d.id)
                service_ids[d.id] = service.id
        db.session.commit()
        rng = np.random.default_rng(7)
        start = datetime(2024, 7, 1, 1, tzinfo=UTC)
        warmup = 100
        total = warmup + len(modes) * n
        scores = rng.integers(1, 5, (total, 9)).tolist()
        items = []
        for i in range(total):
            desk = desk_ids[i % len(desk_ids)]
            ticket = i % 10 == 0
            items.append(NewResponse(
                desk_id=desk, answers={f"U{j + 1}": scores[i][j] for j in range(9)},
                submitted_at=start + timedelta(seconds=20 * i),
                channel="ticket" if ticket else "qr", verified=ticket,
                service_id=service_ids[desk], sex="LP"[i % 2], age=AGE_BANDS[i % 6],
                education=EDUCATIONS[i % 7], occupation=OCCUPATIONS[i % 6],
                idempotency_key=f"submit-cost-{i:012d}"))
        names = list(modes)
        real = {name: getattr(rollups, name) for patch in modes.values() for name in patch}
        try:
            for i, item in enumerate(items):
                mode = names[0] if i < warmup else names[((i - warmup) // block) % len(names)]
                for name, function in real.items():
                    setattr(rollups, name, modes[mode].get(name, function))
                t0 = time.perf_counter()
                with write_transaction(db.session):
                    record_responses(db.session, [item])
                elapsed = time.perf_counter() - t0
                if i >= warmup:
                    out[mode].append(elapsed)
        finally:
            for name, function in real.items():
                setattr(rollups, name, function)
        db.session.remove()
        db.engine.dispose()
    if target.backend == "PostgreSQL":
        benchlib.pg_drop(target.name)
    else:
        target.reset()
    return out


# --- Report --------------------------------------------------------------------------------


def report(runs: list[BackendRun], data: Data, national: Data | None, args: argparse.Namespace,
           extra: dict[str, Any], checks: Checks) -> None:
    names = [r.backend for r in runs]
    print()
    print(f"# IKM from the database: {data.n:,} responses in {SEMESTER.key} "
          f"({SEMESTER.start} .. {SEMESTER.end}), {data.agencies} agencies x {data.desks} "
          f"desks")
    print(f"# {benchlib.machine()}; load average before: "
          f"{' '.join(f'{v:.2f}' for v in args.load_before)}; "
          f"{time.strftime('%Y-%m-%d %H:%M')}")
    print()
    n_res = runs[0].n_results if runs else 0
    rows = []
    rows.append([f"(a) compute_groups, {n_res} results, from rollups",
                 *(ms(median(r.a)) for r in runs), "< 200 ms"])
    rows.append(["    best run", *(ms(min(r.a)) for r in runs), ""])
    for part in runs[0].split if runs else ():
        rows.append([f"    of which {part}", *(ms(median(r.split[part])) for r in runs), ""])
    rows.append(["    incl. building the 50 agencies' scopes",
                 *(ms(median(r.a_scopes)) for r in runs), ""])
    rows.append([f"    range {PARTIAL.key} (daily rows for 2 months)",
                 *(ms(median(r.a_partial)) for r in runs), ""])
    rows.append(["    one agency (11 results)", *(ms(median(r.a_one)) for r in runs), ""])
    for name in runs[0].dashboard if runs else ():
        rows.append([f"dashboard page data (dashboard.services.build), {name}",
                     *(ms(median(r.dashboard[name])) if name in r.dashboard else "-"
                       for r in runs), "< 200 ms"])
    if any(r.b for r in runs):
        rows.append([f"(b) the same from raw rows (median of {args.raw_repeat})",
                     *(ms(median(r.b)) if r.b else "-" for r in runs), ""])
        rows.append(["    rollups speed-up", *(f"{median(r.b) / median(r.a):,.0f}x"
                                                if r.b else "-" for r in runs), ""])
    if national is not None:
        n_nat = runs[0].n_national
        rows.append([f"national: {national.desks:,} desks, {national.n:,} responses, "
                     f"{n_nat:,} results", *(ms(median(r.national)) for r in runs), "< 1 s"])
    print(f"## (a) (b) one semester, warm, median of {args.repeat} unless stated")
    print(table(["measure", *names, "goal"], rows))
    print()

    print("## (c) samplics 0.6.1 on the same responses (in memory), same estimates")
    rows = []
    if "samplics_all" in extra:
        rows.append([f"samplics, {n_res} results: index + 9 elements (10 calls each)",
                     ms(extra["samplics_all"])])
        rows.append([f"samplics, {n_res} index calls alone (given the element ratios)",
                     ms(extra["samplics_index"])])
        for key, value in extra["samplics_worst"].items():
            rows.append([f"  max relative difference, {key}", f"{value:.1e}"])
    if "samplics_national" in extra:
        rows.append([f"samplics, national index ({national.desks:,} strata, "
                     f"{national.n:,} rows, 1 call)", ms(extra["samplics_national"])])
        for key, value in extra["samplics_national_worst"].items():
            rows.append([f"  max relative difference, {key}", f"{value:.1e}"])
    for r in runs:
        if r.national:
            rows.append([f"ours, national from rollups ({r.backend})", ms(median(r.national))])
    print(table(["measure", "value"], rows))
    print()

    if "cli" in extra:
        print("## (d) `ikm compute` on a CSV, whole process (goal < 3 s)")
        rows = [[f"{data.n:,} rows, {extra['cli_size'] / 1e6:.0f} MB, export format "
                 f"(median of {len(extra['cli'])})", ms(median(extra["cli"]))],
                ["  best run", ms(min(extra["cli"]))]]
        print(table(["measure", "value"], rows))
        print()

    if any(r.submit for r in runs):
        print("## (e) rollups in the submit transaction: record_responses, one write "
              "transaction per response, sequential")
        rows = []
        for r in runs:
            if not r.submit:
                continue
            for mode, values in r.submit.items():
                rows.append([f"{r.backend}, {mode}", f"{len(values) / sum(values):,.0f}",
                             ms(sum(values) / len(values)), ms(percentile(values, 50)),
                             ms(percentile(values, 95)), ms(percentile(values, 99))])
            on, off = r.submit["all rollups"], r.submit["no rollups"]
            rows.append([f"{r.backend}, added by all rollups", "",
                         ms(sum(on) / len(on) - sum(off) / len(off)),
                         ms(percentile(on, 50) - percentile(off, 50)),
                         ms(percentile(on, 95) - percentile(off, 95)),
                         ms(percentile(on, 99) - percentile(off, 99))])
        print(table(["transactions", "responses/s", "mean", "p50", "p95", "p99"], rows))
        print()

    print("## databases (one-off builds, cached in benchmarks/out and PostgreSQL)")
    rows = []
    for r in runs:
        for kind, m in (("main", r.meta), ("national", r.national_meta)):
            if not m:
                continue
            rows.append([
                f"{r.backend} {kind}", f"{m['size'] / 2**20:,.0f} MiB",
                f"{m.get('response', 0):,}", f"{m.get('stats_rollup', 0):,}",
                f"{m.get('count_rollup', 0):,}",
                f"{m['load_s']:.0f} s",
                f"{m['rebuild_s']:.0f} s rebuild" if "rebuild_s" in m
                else f"{m['rollups_s']:.0f} s direct",
                "cached" if m["cached"] else "built now"])
    print(table(["database", "size", "responses", "stats rollups", "count rollups",
                 "bulk load", "rollups", "state"], rows))
    print()
    print("## checks")
    for name, passed, detail in checks.items:
        print(f"{'ok  ' if passed else 'FAIL'}  {name}: {detail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--agencies", type=int, default=50)
    parser.add_argument("--desks", type=int, default=10)
    parser.add_argument("--national-rows", type=int, default=5_000_000)
    parser.add_argument("--national-desks", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--repeat", type=int, default=9, help="timed runs of (a)")
    parser.add_argument("--dashboard-repeat", type=int, default=3)
    parser.add_argument("--raw-repeat", type=int, default=1, help="timed runs of (b); 0 skips")
    parser.add_argument("--cli-repeat", type=int, default=3)
    parser.add_argument("--submit-n", type=int, default=1000,
                        help="(e) transactions per mode and backend; 0 skips")
    parser.add_argument("--sample-desks", type=int, default=10)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached databases")
    parser.add_argument("--skip-national", action="store_true")
    parser.add_argument("--skip-samplics", action="store_true")
    parser.add_argument("--skip-checks", action="store_true")
    args = parser.parse_args()
    args.load_before = os.getloadavg()

    OUT.mkdir(parents=True, exist_ok=True)
    backends = [b.strip().lower() for b in args.backends.split(",") if b.strip()]
    if "postgresql" in backends and not benchlib.pg_available():
        print("PostgreSQL is not reachable at", benchlib.PG_ADMIN_URL, "- skipping it")
        backends.remove("postgresql")
    checks = Checks()
    extra: dict[str, Any] = {}
    print(f"generating {args.rows:,} responses ...", flush=True)
    data = synthetic(args.rows, args.agencies, args.desks, args.seed)
    national = None
    if not args.skip_national:
        print(f"generating {args.national_rows:,} national responses ...", flush=True)
        national = synthetic(args.national_rows, 1, args.national_desks, args.seed + 1,
                             web_only=True, stratified_share=1.0)
    runs: list[BackendRun] = []
    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp)
        for backend in backends:
            label = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[backend]
            print(f"{label}:", flush=True)
            run = run_main(Target(label, "bench_engine"), data, args, checks, instance)
            if national is not None:
                run_national(Target(label, "bench_engine_national"), national, args, checks,
                             instance, run)
            runs.append(run)
        for other in runs[1:]:
            diff = results_equal(runs[0].results, other.results)
            checks.add(f"{runs[0].backend} results == {other.backend} results", diff == 0.0,
                       f"max relative difference {diff:.1e}")
        if runs and not args.skip_samplics:
            print("samplics: 550 estimates ...", flush=True)
            t_all, t_index, worst = samplics_550(data, runs[0].results)
            extra.update(samplics_all=t_all, samplics_index=t_index, samplics_worst=worst)
            checks.add("samplics == ours, 550 results (index and elements, point and SE)",
                       max(worst.values()) <= TOLERANCE,
                       f"max relative difference {max(worst.values()):.1e}")
            if national is not None and runs[0].national_result is not None:
                print("samplics: national estimate (one call) ...", flush=True)
                elapsed, worst = samplics_national(national, runs[0].national_result)
                extra.update(samplics_national=elapsed, samplics_national_worst=worst)
                checks.add("samplics == ours, national index (point and SE)",
                           max(worst.values()) <= TOLERANCE,
                           f"max relative difference {max(worst.values()):.1e}")
        if runs and args.cli_repeat:
            print("ikm compute ...", flush=True)
            extra["cli"], extra["cli_size"] = ikm_compute(data, args.cli_repeat,
                                                          runs[0].results_all, checks)
        if args.submit_n:
            for run in runs:
                print(f"{run.backend}: (e) submit transactions ...", flush=True)
                run.submit = submit_cost(Target(run.backend, "bench_engine_tx"), args.submit_n,
                                         50, instance)
    report(runs, data, national, args, extra, checks)
    return 0 if checks.ok else 1


if __name__ == "__main__":
    sys.exit(main())
