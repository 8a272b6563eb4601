"""Benchmark: CSV export of 1,000,000 responses (rows per second, peak memory) and the
full hash-chain verification, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/exports.py [--rows 1000000] [--rebuild] [--only sqlite|postgresql]

The database is built once (cached in benchmarks/out/ and a PostgreSQL database of its
own): 1,000,000 responses with their answers and a real hash chain (every link computed
with the application's own payload and hash functions), loaded in bulk. Each measurement
runs in a fresh subprocess, so that its peak resident memory is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from benchlib import OUT, machine, pg_available, pg_exists, pg_recreate, pg_url, table  # noqa: E402

DB_NAME = "bench_export"
AGENCY = "EXP"
DESKS = 20
PERIOD = "2024"
GOAL_ROWS_PER_S = 100_000
GOAL_MB = 150


def make_app(url: str, instance: Path):
    from survey import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "b" * 32,
                       "TESTING": True, "INSTANCE_PATH": str(instance)})


def build(url: str, rows: int, seed: int = 7) -> dict:
    """Schema, one agency with DESKS desks, `rows` responses in 2024 with answers (5% of
    answers blank), comments on 10%, and the hash chain over all of them."""
    from sqlalchemy import text

    from survey.core import ledger
    from survey.core import org as org
    from survey.core.chain import GENESIS, link_hash
    from survey.core.db import db
    from survey.core.models import Element
    from survey.core.seed import seed_standards

    app = make_app(url, Path(tempfile.mkdtemp()))
    started = time.perf_counter()
    with app.app_context():
        db.drop_all()
        db.create_all()
        seed_standards(db.session)
        org.create_agency(db.session, AGENCY, "Benchmark agency")
        desks = [org.create_desk(db.session, AGENCY, f"L{i + 1}", f"Loket {i + 1}")
                 for i in range(DESKS)]
        db.session.commit()
        questionnaire = desks[0].questionnaire_id
        elements = [e.id for e in db.session.query(Element).filter_by(
            questionnaire_id=questionnaire).order_by(Element.position)]
        db.session.commit()  # end the read transaction before another connection writes
        rng = np.random.default_rng(seed)
        desk_ids = np.array([d.id for d in desks])[rng.integers(0, DESKS, rows)]
        days = np.sort(rng.integers(0, 366, rows))  # ids follow time, as in real use
        hours = rng.integers(1, 9, rows)
        scores = rng.integers(1, 5, size=(rows, 9))
        scores[rng.random((rows, 9)) < 0.05] = 0
        commented = rng.random(rows) < 0.1
        base = datetime(2024, 1, 1, tzinfo=UTC)
        raw = db.engine.raw_connection()
        dialect = db.engine.dialect.name
        prev = GENESIS
        chunk = 50_000
        for start in range(0, rows, chunk):
            stop = min(start + chunk, rows)
            response_rows, answer_rows, link_rows = [], [], []
            for i in range(start, stop):
                rid = i + 1
                submitted = base + timedelta(days=int(days[i]), hours=int(hours[i]))
                row = {"id": rid, "desk_id": int(desk_ids[i]), "service_id": None,
                       "questionnaire_id": questionnaire, "submitted_at": submitted,
                       "day": (submitted + timedelta(hours=7)).date(),
                       "hour": (submitted.hour + 7) % 24, "channel": "qr", "verified": False,
                       "flags": "", "sex": None, "age": None, "education": None,
                       "occupation": None,
                       "comment": f"saran nomor {rid}" if commented[i] else None}
                answers = {elements[j]: int(scores[i, j]) for j in range(9) if scores[i, j]}
                prev = link_hash(rid, prev, "response", ledger.response_payload(row, answers))
                response_rows.append(row)
                answer_rows.extend((rid, e, questionnaire, s) for e, s in answers.items())
                link_rows.append((rid, "response", rid, prev))
            _bulk(raw, dialect, response_rows, answer_rows, link_rows)
        cursor = raw.cursor()
        mark = "?" if dialect == "sqlite" else "%s"
        cursor.execute(f"UPDATE chain_head SET seq = {mark}, hash = {mark} WHERE id = 1",
                       (rows, prev))
        raw.commit()
        cursor.close()
        raw.close()
        if dialect == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
        db.engine.dispose()
    return {"rows": rows, "seconds": time.perf_counter() - started}


def _bulk(raw, dialect: str, responses: list[dict], answers: list[tuple],
          links: list[tuple]) -> None:
    columns = list(responses[0])
    cursor = raw.cursor()
    if dialect == "sqlite":
        cursor.execute("BEGIN")

        def value(v):
            if isinstance(v, datetime):
                return v.replace(tzinfo=None).isoformat(sep=" ")
            if isinstance(v, date):
                return v.isoformat()
            return v
        marks = ", ".join("?" for _ in columns)
        cursor.executemany(f"INSERT INTO response ({', '.join(columns)}) VALUES ({marks})",
                           [tuple(value(r[c]) for c in columns) for r in responses])
        cursor.executemany("INSERT INTO answer VALUES (?, ?, ?, ?)", answers)
        cursor.executemany("INSERT INTO chain_entry (seq, kind, ref_id, hash) "
                           "VALUES (?, ?, ?, ?)", links)
    else:
        with cursor.copy(f"COPY response ({', '.join(columns)}) FROM STDIN") as copy:
            for r in responses:
                copy.write_row([r[c] for c in columns])
        with cursor.copy("COPY answer (response_id, element_id, questionnaire_id, score) "
                         "FROM STDIN") as copy:
            for a in answers:
                copy.write_row(a)
        with cursor.copy("COPY chain_entry (seq, kind, ref_id, hash) FROM STDIN") as copy:
            for link in links:
                copy.write_row(link)
    cursor.execute("COMMIT") if dialect == "sqlite" else raw.commit()
    cursor.close()


def peak_mb() -> float:
    """Peak resident memory of this process. VmHWM belongs to the address space made by
    exec, whereas getrusage's ru_maxrss on Linux carries over the parent's peak at fork
    (a parent that just built the database would inflate the child's figure)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(url: str, what: str) -> dict:
    """Runs in its own process: the export to a file, or the chain verification."""
    from survey.core.db import db
    from survey.core.exports import service
    from survey.core.models import Agency
    from survey.core.periods import parse_period

    app = make_app(url, Path(tempfile.mkdtemp()))
    with app.app_context():
        db.session.execute(db.select(Agency).limit(1)).first()  # connect, warm imports
        before = peak_mb()
        started = time.perf_counter()
        if what == "csv":
            agency = db.session.scalar(db.select(Agency).where(Agency.code == AGENCY))
            job = service.ExportJob(agency, parse_period(PERIOD))
            rows, size = -1, 0
            with open(Path(tempfile.mkdtemp()) / "export.csv", "w", encoding="utf-8") as fh:
                for chunk in service.csv_chunks(db.session, job):
                    fh.write(chunk)
                    rows += chunk.count("\n")
                    size += len(chunk)
            result = {"rows": rows, "bytes": size}
        else:
            from survey.core import ledger

            report = ledger.verify(db.session)
            result = {"rows": report.length, "intact": report.broken is None}
        result["seconds"] = time.perf_counter() - started
        result["peak_mb"] = peak_mb()
        result["baseline_mb"] = before
    return result


def run(url: str, what: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--measure", what, "--url", url],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--measure", choices=("csv", "verify"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.url, args.measure)))
        return 0

    OUT.mkdir(parents=True, exist_ok=True)
    targets = []
    if args.only in (None, "sqlite"):
        targets.append(("SQLite", f"sqlite:///{OUT / (DB_NAME + '.sqlite')}",
                        OUT / f"{DB_NAME}.sqlite.json", lambda: None))
    if args.only in (None, "postgresql") and pg_available():
        targets.append(("PostgreSQL", pg_url(DB_NAME), OUT / f"{DB_NAME}.postgresql.json",
                        lambda: pg_recreate(DB_NAME)))
    results, failures = {}, []
    for name, url, marker, recreate in targets:
        built = json.loads(marker.read_text()) if marker.exists() else None
        exists = (name != "PostgreSQL") or pg_exists(DB_NAME)
        if args.rebuild or built is None or built["rows"] != args.rows or not exists:
            print(f"{name}: building {args.rows:,} responses with their chain ...",
                  file=sys.stderr)
            recreate()
            built = build(url, args.rows)
            marker.write_text(json.dumps(built))
        print(f"{name}: CSV export ...", file=sys.stderr)
        csv_result = run(url, "csv")
        print(f"{name}: chain verification ...", file=sys.stderr)
        verify_result = run(url, "verify")
        results[name] = (built, csv_result, verify_result)
        if csv_result["rows"] != args.rows:
            failures.append(f"{name}: exported {csv_result['rows']} rows, not {args.rows}")
        if not verify_result["intact"] or verify_result["rows"] != args.rows:
            failures.append(f"{name}: chain verification failed")

    print(f"# Exports and chain verification: {args.rows:,} responses (one agency, "
          f"{DESKS} desks, {PERIOD})")
    print(f"# {machine()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n")
    header = ["measure", *results, "goal"]
    rows = []

    def line(label, fn, goal=""):
        rows.append([label, *(fn(*results[n]) for n in results), goal])

    line("CSV export: rows/s", lambda b, c, v: f"{c['rows'] / c['seconds']:,.0f}",
         f">= {GOAL_ROWS_PER_S:,}")
    line("CSV export: time", lambda b, c, v: f"{c['seconds']:.1f} s")
    line("CSV export: size", lambda b, c, v: f"{c['bytes'] / 2**20:,.0f} MiB")
    line("CSV export: peak resident memory", lambda b, c, v: f"{c['peak_mb']:.0f} MB",
         f"< {GOAL_MB} MB")
    line("  of which the app before the export", lambda b, c, v: f"{c['baseline_mb']:.0f} MB")
    line("chain verification: time", lambda b, c, v: f"{v['seconds']:.1f} s")
    line("chain verification: per million links",
         lambda b, c, v: f"{v['seconds'] / v['rows'] * 1e6:.1f} s")
    line("chain verification: links/s", lambda b, c, v: f"{v['rows'] / v['seconds']:,.0f}")
    line("chain verification: peak resident memory",
         lambda b, c, v: f"{v['peak_mb']:.0f} MB")
    line("database build (one-off, cached)", lambda b, c, v: f"{b['seconds']:.0f} s")
    print(table(header, rows))
    print()
    for failure in failures:
        print("FAIL", failure)
    if not failures:
        print("ok    every response exported once; every link verified")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
