"""What the benchmarks share: tables and percentiles, the benchmarks' own PostgreSQL
databases, synthetic responses, building and bulk-loading a database through the
application's schema, the cache of built databases, and correctness checks.

The scripts run from the repository root as ``python -m benchmarks.<name>``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from survey import create_app
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
)
from survey.core.org.agencies import create_agency
from survey.core.org.desks import create_desk
from survey.core.org.services import create_service
from survey.core.org.volumes import set_volume
from survey.core.periods import parse_period
from survey.core.results.raw import rebuild_rollups
from survey.core.seed import seed_standards

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"  # git-ignored: cached databases, logs
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
TOLERANCE = 1e-9  # largest relative difference the checks accept


# --- PostgreSQL: the benchmarks' own databases ----------------------------------------------


def pg_url(name: str, admin_url: str = PG_ADMIN_URL) -> str:
    """The SQLAlchemy URL (psycopg 3) of database `name` on the admin URL's server."""
    url = make_url(admin_url).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False)


def pg_recreate(name: str, admin_url: str = PG_ADMIN_URL) -> str:
    """Drop (if present) and create one of the benchmark's own databases; returns its URL."""
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', admin_url)
    _pg_admin(f'CREATE DATABASE "{name}"', admin_url)
    return pg_url(name, admin_url)


def pg_drop(name: str, admin_url: str = PG_ADMIN_URL) -> None:
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', admin_url)


def pg_exists(name: str, admin_url: str = PG_ADMIN_URL) -> bool:
    engine = create_engine(pg_url("postgres", admin_url))
    try:
        with engine.connect() as conn:
            return bool(conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                    {"n": name}))
    finally:
        engine.dispose()


def pg_available(admin_url: str = PG_ADMIN_URL) -> bool:
    engine = create_engine(pg_url("postgres", admin_url))
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


def _pg_admin(statement: str, admin_url: str) -> None:
    engine = create_engine(pg_url("postgres", admin_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def backend_labels(spec: str) -> list[str]:
    """The backends named in a ``--backends`` value ("sqlite,postgresql"), as labels;
    PostgreSQL is left out, with a note, when it cannot be reached."""
    backends = [b.strip().lower() for b in spec.split(",") if b.strip()]
    if "postgresql" in backends and not pg_available():
        print("PostgreSQL is not reachable at", PG_ADMIN_URL, "- skipping it")
        backends.remove("postgresql")
    return [BACKENDS[b] for b in backends]


# --- Reporting -----------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation between order statistics."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ms(seconds: float) -> str:
    if seconds != seconds:  # NaN
        return "-"
    value = seconds * 1e3
    return f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [list(header), *[list(r) for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(r: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()

    out = [line(cells[0]), line(["-" * w for w in widths])]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


def machine() -> str:
    """One line about the machine: CPU model, cores, memory, Python."""
    model = platform.processor() or "?"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True,
                                   check=False).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    memory = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return (f"{model}, {os.cpu_count()} CPUs, {memory} RAM, Python "
            f"{platform.python_version()}")


def about(load_before: Sequence[float], stamp: str = "%Y-%m-%d %H:%M") -> str:
    """The second line of a report: the machine, the load before the run, the time."""
    return (f"# {machine()}; load average before: "
            f"{' '.join(f'{v:.2f}' for v in load_before)}; {time.strftime(stamp)}")


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None,
               smoke: dict[str, Any], what: str) -> argparse.Namespace:
    """The options, with ``--smoke`` added: it makes ``smoke`` the defaults (options given
    on the command line still apply), for a run of seconds that checks correctness only."""
    parser.add_argument("--smoke", action="store_true",
                        help=f"{what}: a run of seconds for the checks only, no timing "
                             "goals; options given with it still apply")
    args = parser.parse_args(argv)
    if args.smoke:
        parser.set_defaults(**smoke)
        args = parser.parse_args(argv)
    return args


def rel_diff(a: float, b: float) -> float:
    """Relative difference of a from the reference b (0 when equal)."""
    return 0.0 if a == b else abs(a - b) / max(abs(b), 1e-300)


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

    def print(self) -> None:
        print("## checks")
        for name, passed, detail in self.items:
            print(f"{'ok  ' if passed else 'FAIL'}  {name}: {detail}")


# --- Synthetic responses --------------------------------------------------------------------

SEMESTER = parse_period("2024-S1")
FIRST_DAY = SEMESTER.start
DAYS = SEMESTER.days  # 182 (2024 is a leap year)
MONTHS = SEMESTER.months()
UTC_OFFSET = timedelta(hours=7)  # Asia/Jakarta, the agencies' zone
CHANNELS = ("qr", "kiosk", "ticket", "paper")
COMMENTS = ("Pelayanan cepat, ramah", 'Antrean "lama" sekali', "Petugas membantu\nterima "
            "kasih", "ok")
STRATIFIED_SHARE = 0.8  # 40 of 50 agencies know their desks' populations
PROFILE = {"sex": SEXES, "age": AGE_BANDS, "education": EDUCATIONS,
           "occupation": OCCUPATIONS}


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
        profile = {k: np.zeros(rows, dtype=np.int64) for k in PROFILE}
        comment = np.zeros(rows, dtype=np.int64)
    else:
        channel, service, flagged, profile, comment = details(rng, y, flag_rate=0.04)
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


def details(rng: np.random.Generator, y: np.ndarray, flag_rate: float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """What else responses carry, drawn in this order: channel (80% QR, 5% kiosk, 10%
    one-time ticket, 5% paper, whose answers are blank (0 in ``y``) 10% of the time), service
    (10% none, else one of two), flagged (QR and kiosk only, at ``flag_rate``), profile
    fields and comments on 5%."""
    rows = y.shape[0]
    channel = rng.choice(4, size=rows, p=[0.80, 0.05, 0.10, 0.05])
    y[(channel == 3)[:, None] & (rng.random(y.shape) < 0.10)] = 0
    service = rng.choice(3, size=rows, p=[0.10, 0.45, 0.45])
    flagged = (channel <= 1) & (rng.random(rows) < flag_rate)
    profile = {name: rng.integers(0, len(options) + 1, rows)
               for name, options in PROFILE.items()}
    comment = np.where(rng.random(rows) < 0.05, rng.integers(1, len(COMMENTS) + 1, rows), 0)
    return channel, service, flagged, profile, comment


def agency_code(a: int) -> str:
    return f"AG{a + 1:02d}"


def desk_code(d: int) -> str:
    return f"L{d + 1:04d}"


# --- Databases built through the application -------------------------------------------------


@dataclass
class Target:
    """One database of a benchmark: a SQLite file (in ``directory``) or a PostgreSQL
    database; its cache metadata is a JSON file in ``directory``."""

    backend: str  # "SQLite" | "PostgreSQL"
    name: str
    directory: Path = OUT

    @property
    def sqlite_path(self) -> Path:
        return self.directory / f"{self.name}.sqlite"

    @property
    def uri(self) -> str:
        if self.backend == "SQLite":
            return f"sqlite:///{self.sqlite_path}"
        return pg_url(self.name)

    @property
    def meta_path(self) -> Path:
        return self.directory / f"{self.name}.{self.backend.lower()}.json"

    def reset(self) -> None:
        """An empty database (no metadata)."""
        self.drop()
        if self.backend == "PostgreSQL":
            pg_recreate(self.name)

    def drop(self) -> None:
        """The database and its metadata removed."""
        if self.backend == "SQLite":
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.sqlite_path) + suffix).unlink(missing_ok=True)
        else:
            pg_drop(self.name)
        self.meta_path.unlink(missing_ok=True)

    def exists(self) -> bool:
        if self.backend == "SQLite":
            return self.sqlite_path.exists()
        return pg_exists(self.name)

    def size(self) -> int:
        """Bytes on disk (SQLite: the file and its WAL; PostgreSQL: the database)."""
        if self.backend == "SQLite":
            return sum(Path(str(self.sqlite_path) + s).stat().st_size
                       for s in ("", "-wal") if Path(str(self.sqlite_path) + s).exists())
        engine = create_engine(self.uri)
        try:
            with engine.connect() as conn:
                return int(conn.scalar(text("SELECT pg_database_size(current_database())")))
        finally:
            engine.dispose()


def make_app(uri: str, instance: Path):
    """The application on the given database, as the tests configure it."""
    return create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "x" * 32,
                       "TESTING": True, "INSTANCE_PATH": str(instance)})


def create_schema() -> None:
    """The application's tables and the seeded standard questionnaires."""
    db.create_all()
    seed_standards(db.session)
    db.session.commit()


@dataclass
class Org:
    """Ids the application assigned: desk ids by global desk index, services per agency."""

    questionnaire_id: int
    element_ids: list[int]  # by position
    desk_ids: list[int]
    service_ids: list[list[int]]  # [agency][k]


def _questionnaire(session) -> tuple[int, list[int]]:
    questionnaire = session.scalar(select(Questionnaire).where(
        Questionnaire.code == "permenpan-14-2017"))
    element_ids = list(session.scalars(select(Element.id).where(
        Element.questionnaire_id == questionnaire.id).order_by(Element.position)))
    return questionnaire.id, element_ids


def create_org(data: Data, prefix: str = "", parent: str | None = None) -> Org:
    """Agencies, desks, two services per agency and monthly volumes, through
    survey.core.org (as `flask agency/desk/service/volume` do; audited, actor None).
    With ``parent``, an agency of that code groups them all (a Mal Pelayanan Publik)."""
    session = db.session
    desk_ids: list[int] = []
    service_ids: list[list[int]] = []
    if parent is not None:
        create_agency(session, parent, "Mal Pelayanan Publik (benchmark)", actor=None)
    for a in range(data.agencies):
        code = prefix + agency_code(a)
        create_agency(session, code, f"Instansi {code}", parent, actor=None)
        desks = [create_desk(session, code, desk_code(d), f"Loket {d + 1}", actor=None)
                 for d in range(data.desks)]
        desk_ids.extend(d.id for d in desks)
        if data.service.any():
            service_ids.append([
                create_service(session, code, f"S{k}", f"Layanan {k}",
                                   desk_codes=[d.code for d in desks], actor=None).id
                for k in (1, 2)])
        else:
            service_ids.append([])
        if data.stratified[a]:
            for d, desk in enumerate(desks):
                for m, month in enumerate(data.months):
                    set_volume(session, desk, "month", month,
                                   int(data.pops[a * data.desks + d, m]), actor=None)
    session.commit()
    return Org(*_questionnaire(session), desk_ids, service_ids)


def load_org(data: Data, prefix: str = "") -> Org:
    """The ids of an organisation create_org built earlier."""
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
    return Org(*_questionnaire(session), desk_ids, service_ids)


RESPONSE_COLUMNS = ("id", "desk_id", "service_id", "questionnaire_id", "submitted_at", "day",
                    "hour", "channel", "verified", "flags", "sex", "age", "education",
                    "occupation", "comment", "idempotency_key")

# One chunk of a bulk load: response rows (values in RESPONSE_COLUMNS order, as the ORM
# would bind them); their answers as columns (response ids, element ids, the questionnaire
# id, scores); hash-chain links (seq, kind, ref_id, hash), possibly none.
Answers = tuple[np.ndarray, np.ndarray, int, np.ndarray]
Chunk = tuple[list[tuple], Answers, list[tuple]]


def bulk_insert(chunks: Iterable[Chunk]) -> None:
    """Insert chunks of responses, answers and chain links in one transaction with the
    driver's bulk path (executemany on SQLite, COPY on PostgreSQL); values are bound
    exactly as SQLAlchemy binds them. The chain head moves to the last link inserted."""
    dialect = db.engine.dialect
    last: tuple | None = None
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
            for responses, (rid, eid, qid, score), links in chunks:
                cursor.executemany(sql, [
                    tuple(p(v) if p is not None and v is not None else v
                          for p, v in zip(procs, r, strict=True)) for r in responses])
                cursor.executemany(
                    "INSERT INTO answer (response_id, element_id, questionnaire_id, score) "
                    "VALUES (?, ?, ?, ?)",
                    zip(rid.tolist(), eid.tolist(), [qid] * rid.shape[0], score.tolist(),
                        strict=True))
                cursor.executemany("INSERT INTO chain_entry (seq, kind, ref_id, hash) "
                                   "VALUES (?, ?, ?, ?)", links)
                last = links[-1] if links else last
            if last is not None:
                cursor.execute("UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1",
                               (last[0], last[3]))
            cursor.execute("COMMIT")
        else:
            with driver.cursor() as cursor:
                for responses, (rid, eid, qid, score), links in chunks:
                    with cursor.copy(f"COPY response ({', '.join(RESPONSE_COLUMNS)}) "
                                     "FROM STDIN") as copy:
                        for r in responses:
                            copy.write_row(r)
                    with cursor.copy("COPY answer (response_id, element_id, "
                                     "questionnaire_id, score) FROM STDIN") as copy:
                        copy.write("".join(map(f"{{}}\t{{}}\t{qid}\t{{}}\n".format,
                                               rid.tolist(), eid.tolist(), score.tolist())))
                    if links:
                        with cursor.copy("COPY chain_entry (seq, kind, ref_id, hash) "
                                         "FROM STDIN") as copy:
                            for link in links:
                                copy.write_row(link)
                        last = links[-1]
                if last is not None:
                    cursor.execute("UPDATE chain_head SET seq = %s, hash = %s WHERE id = 1",
                                   (last[0], last[3]))
                cursor.execute("SELECT setval(pg_get_serial_sequence('response', 'id'), "
                               "(SELECT max(id) FROM response))")
            driver.commit()
    finally:
        raw.close()


def answer_columns(response_ids: np.ndarray, y: np.ndarray, ids: Org) -> Answers:
    """The answers of responses (ids, scores 0..4 with 0 for a blank) as columns."""
    given = y > 0
    rid = np.repeat(response_ids, y.shape[1]).reshape(y.shape)[given]
    eid = np.broadcast_to(np.array(ids.element_ids), y.shape)[given]
    return rid, eid, ids.questionnaire_id, y[given]


def _chunks(data: Data, ids: Org, rows: np.ndarray) -> Iterator[Chunk]:
    """The given responses of ``data`` (row numbers; id = row + 1), without chain links."""
    days = [data.first_day + timedelta(days=d) for d in range(data.n_days)]
    moments = {(d, h): datetime(days[d].year, days[d].month, days[d].day, h, tzinfo=UTC)
               - UTC_OFFSET for d in range(data.n_days) for h in range(24)}
    options = {k: (None, *v) for k, v in PROFILE.items()}
    desk_ids = np.array(ids.desk_ids)
    flags = ("burst", "too_fast")
    for start in range(0, rows.shape[0], 100_000):
        part = rows[start:start + 100_000]
        out = []
        columns = zip(
            (part + 1).tolist(), data.desk[part].tolist(), data.day[part].tolist(),
            data.hour[part].tolist(), data.channel[part].tolist(),
            data.service[part].tolist(), data.flagged[part].tolist(),
            *(data.profile[k][part].tolist() for k in PROFILE),
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
        yield out, answer_columns(part + 1, data.y[part], ids), []


def bulk_load(data: Data, ids: Org, rows: np.ndarray | None = None) -> None:
    """Insert responses (ids 1..n, or the given row numbers) and their answers, without
    hash-chain entries."""
    bulk_insert(_chunks(data, ids, np.arange(data.n) if rows is None else rows))


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
    """Build the target unless a build with the same parameters and code is cached.
    ``build`` runs in the app's context on an empty database and returns the metadata,
    with the number of ``responses`` it stored."""
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


def build_main(data: Data, parent: str | None = None) -> dict[str, Any]:
    """A database of ``data``: schema, organisation (under ``parent`` when given), bulk
    load, rebuild_rollups."""
    create_schema()
    t0 = time.perf_counter()
    ids = create_org(data, parent=parent)
    t_org = time.perf_counter() - t0
    t0 = time.perf_counter()
    bulk_load(data, ids)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    with write_transaction(db.session):
        rollup_rows = rebuild_rollups(db.session)
    t_rebuild = time.perf_counter() - t0
    analyze()
    return {"responses": data.n, "org_s": t_org, "load_s": t_load, "rebuild_s": t_rebuild,
            "rollup_rows_written": rollup_rows}


# --- CSV files built as bytes with numpy ---------------------------------------------------

FILL = 0xFF  # never in the output: cells are padded with it, then it is removed


def choices(options: Sequence[bytes], index: np.ndarray) -> np.ndarray:
    """(n, width) bytes: options[index[i]] padded with FILL."""
    width = max(max(len(o) for o in options), 1)
    lookup = np.full((len(options), width), FILL, dtype=np.uint8)
    for k, o in enumerate(options):
        lookup[k, :len(o)] = np.frombuffer(o, np.uint8)
    return lookup[index]


def unpadded(parts: Sequence[np.ndarray]) -> bytes:
    """The rows of the column blocks side by side, padding removed."""
    flat = np.concatenate(parts, axis=1).ravel()
    return flat[flat != FILL].tobytes()
