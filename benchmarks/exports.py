"""Benchmark: CSV export of 1,000,000 responses (rows per second, peak memory) and the
full hash-chain verification, on SQLite and PostgreSQL.

    python -m benchmarks.exports [--rows 1000000] [--rebuild] [--only sqlite|postgresql]
    python -m benchmarks.exports --smoke   # a tiny database on SQLite, in seconds: checks only

The database is built once (cached in benchmarks/out/ and a PostgreSQL database of its
own): 1,000,000 responses with their answers and a real hash chain (every link computed
with the application's own payload and hash functions, after the links of the audited
organisation set-up), loaded in bulk. Each measurement runs in a fresh subprocess, so that
its peak resident memory is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import text

from benchmarks.lib import (
    OUT,
    RESPONSE_COLUMNS,
    ROOT,
    Chunk,
    Org,
    Target,
    answer_columns,
    bulk_insert,
    cached,
    create_schema,
    machine,
    make_app,
    parse_args,
    pg_available,
    table,
)
from survey.core import ledger
from survey.core.chain import link_hash
from survey.core.db import db
from survey.core.exports import service
from survey.core.models import Agency, Element
from survey.core.org.agencies import create_agency
from survey.core.org.desks import create_desk
from survey.core.periods import parse_period

DB_NAME = "bench_export"
AGENCY = "EXP"
DESKS = 20
PERIOD = "2024"
GOAL_ROWS_PER_S = 100_000
GOAL_MB = 150


def build(rows: int, seed: int = 7) -> dict:
    """Schema, one agency with DESKS desks, `rows` responses in 2024 with answers (5% of
    answers blank), comments on 10%, and the hash chain over all of them. Runs in the
    application's context on an empty database."""
    started = time.perf_counter()
    create_schema()
    create_agency(db.session, AGENCY, "Benchmark agency", actor=None)
    desks = [create_desk(db.session, AGENCY, f"L{i + 1}", f"Loket {i + 1}", actor=None)
             for i in range(DESKS)]
    db.session.commit()
    questionnaire = desks[0].questionnaire_id
    elements = [e.id for e in db.session.query(Element).filter_by(
        questionnaire_id=questionnaire).order_by(Element.position)]
    ids = Org(questionnaire, elements, [d.id for d in desks], [])
    # The set-up's audit events are the chain's first links; the responses follow them.
    head = ledger.head(db.session)
    db.session.commit()  # end the read transaction before another connection writes
    bulk_insert(_chunks(rows, seed, ids, head))
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    links, _ = ledger.head(db.session)
    db.session.commit()
    return {"responses": rows, "links": links, "seconds": time.perf_counter() - started}


def _chunks(rows: int, seed: int, ids: Org, head: tuple[int, str]) -> Iterator[Chunk]:
    """The responses in chunks, each with its chain links, which follow ``head`` (the
    chain's seq and hash before them)."""
    rng = np.random.default_rng(seed)
    desk_ids = np.array(ids.desk_ids)[rng.integers(0, DESKS, rows)]
    days = np.sort(rng.integers(0, 366, rows))  # ids follow time, as in real use
    hours = rng.integers(1, 9, rows)
    scores = rng.integers(1, 5, size=(rows, 9))
    scores[rng.random((rows, 9)) < 0.05] = 0
    commented = rng.random(rows) < 0.1
    base = datetime(2024, 1, 1, tzinfo=UTC)
    seq, prev = head
    chunk = 50_000
    for start in range(0, rows, chunk):
        stop = min(start + chunk, rows)
        response_rows, link_rows = [], []
        for i in range(start, stop):
            rid = i + 1
            submitted = base + timedelta(days=int(days[i]), hours=int(hours[i]))
            row = {"id": rid, "desk_id": int(desk_ids[i]), "service_id": None,
                   "questionnaire_id": ids.questionnaire_id, "submitted_at": submitted,
                   "day": (submitted + timedelta(hours=7)).date(),
                   "hour": (submitted.hour + 7) % 24, "channel": "qr", "verified": False,
                   "flags": "", "sex": None, "age": None, "education": None,
                   "occupation": None,
                   "comment": f"saran nomor {rid}" if commented[i] else None,
                   "idempotency_key": None}
            answers = {ids.element_ids[j]: int(scores[i, j]) for j in range(9) if scores[i, j]}
            seq += 1
            prev = link_hash(seq, prev, "response", ledger.response_payload(row, answers))
            response_rows.append(tuple(row[c] for c in RESPONSE_COLUMNS))
            link_rows.append((seq, "response", rid, prev))
        part = np.arange(start, stop)
        yield response_rows, answer_columns(part + 1, scores[part], ids), link_rows


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
            report = ledger.verify(db.session)
            result = {"rows": report.length, "intact": report.broken is None}
        result["seconds"] = time.perf_counter() - started
        result["peak_mb"] = peak_mb()
        result["baseline_mb"] = before
    return result


def run(url: str, what: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.exports", "--measure", what,
                          "--url", url], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--measure", choices=("csv", "verify"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parse_args(parser, argv, {"rows": 2000, "only": "sqlite"},
                      "2,000 rows on SQLite in a temporary directory (bench_export_smoke on "
                      "PostgreSQL, dropped after)")
    if args.measure:
        print(json.dumps(measure(args.url, args.measure)))
        return 0

    OUT.mkdir(parents=True, exist_ok=True)
    backends = [b for b in ("SQLite", "PostgreSQL") if args.only in (None, b.lower())]
    if "PostgreSQL" in backends and not pg_available():
        backends.remove("PostgreSQL")
    results, failures = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        for name in backends:
            # --smoke: never the cached databases of the real runs
            target = (Target(name, f"{DB_NAME}_smoke", Path(tmp)) if args.smoke
                      else Target(name, DB_NAME))
            try:
                built = cached(target, {"rows": args.rows}, args.rebuild,
                               lambda: build(args.rows), make_app(target.uri, Path(tmp)))
                print(f"{name}: CSV export ...", file=sys.stderr)
                csv_result = run(target.uri, "csv")
                print(f"{name}: chain verification ...", file=sys.stderr)
                verify_result = run(target.uri, "verify")
            finally:
                if args.smoke:
                    target.drop()
            results[name] = (built, csv_result, verify_result)
            if csv_result["rows"] != args.rows:
                failures.append(f"{name}: exported {csv_result['rows']} rows, not {args.rows}")
            if not verify_result["intact"] or verify_result["rows"] != built["links"]:
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
