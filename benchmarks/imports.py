"""Benchmark: CSV imports of responses, and what citizens notice while one runs.

    python -m benchmarks.imports [--rows 30000] [--backends sqlite,postgresql]
    python -m benchmarks.imports --smoke   # SQLite, 600 rows: checks only, in seconds

For each database, on a fresh database with one agency and five desks:

1. The import alone, in this process: `check_file` (parse, validate, anonymise; reads
   only, outside the write transaction) and `store_file` (the write transaction: for its
   length other writers wait on SQLite), and how long of it the chain lock was held (for
   that long, other responses wait on PostgreSQL). Goal (issue): the whole import of
   30,000 rows under 3 s.
2. A manager uploads another file of the same size on the web page (gunicorn, 2 workers)
   while citizens submit the survey at a steady 10/s: the citizens' latency during the
   upload (it was up to 15 s while the old import held the chain lock), and the upload's.
3. An upload of 2.5 times the rows (75,000: the size that used to hit the worker timeout),
   at most the limit: it must answer with the confirmation, not a 500.
4. An upload of one row more than the limit: refused with a message, nothing stored.

Every row and every citizen's submission acknowledged must be stored (exit status 1
otherwise).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import requests
from sqlalchemy import func, select

from benchmarks.lib import OUT, about, backend_labels, make_app, parse_args, percentile, table
from benchmarks.submit import SECRET, Sample, cycle, fresh_database, start_gunicorn
from survey.core import imports, ledger
from survey.core.db import db, write_transaction
from survey.core.models import Response
from survey.core.org.agencies import create_agency
from survey.core.org.desks import create_desk
from survey.core.org.users import create_user
from survey.core.seed import seed_standards

AGENCY = "KEC-IMPOR"
DESKS = 5
MANAGER = ("manager@bench.example", "benchmark-password-123")
GOAL_SECONDS = 3.0  # 30,000 rows
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csv_file(rows: int, seed: int) -> bytes:
    """`rows` paper responses over the last year, a comment on every fifth."""
    rng = random.Random(seed)
    out = io.StringIO()
    out.write("agency,desk,submitted_at,channel," + ",".join(f"U{i}" for i in range(1, 10))
              + ",sex,education,comment\n")
    first = date.today() - timedelta(days=365)
    for n in range(rows):
        day = first + timedelta(days=rng.randrange(360))
        comment = f"Antrean loket {n % DESKS + 1} agak lama pada pagi hari" if n % 5 == 0 else ""
        scores = ",".join(str(rng.choice((2, 3, 3, 4, 4))) for _ in range(9))
        out.write(f"{AGENCY},L{n % DESKS + 1},{day.isoformat()},paper,{scores},"
                  f"{rng.choice('LP')},{rng.choice(('SMA', 'S1', ''))},{comment}\n")
    return out.getvalue().encode()


def prepare(uri: str, instance: Path) -> str:
    """Schema, one agency with five desks and its manager; returns a desk's survey path."""
    app = make_app(uri, instance)
    with app.app_context():
        db.create_all()
        seed_standards(db.session)
        with write_transaction(db.session):
            create_agency(db.session, AGENCY, "Kecamatan Impor", actor=None)
            desks = [create_desk(db.session, AGENCY, f"L{i}", f"Loket {i}", actor=None)
                     for i in range(1, DESKS + 1)]
            create_user(db.session, MANAGER[0], MANAGER[1], "agency_manager", [AGENCY],
                        name="Manager", actor=None)
        path = f"/s/{desks[0].slug}"
        db.session.remove()
        db.engine.dispose()
    return path


def stored(uri: str, instance: Path) -> int:
    app = make_app(uri, instance)
    with app.app_context():
        count = int(db.session.scalar(select(func.count()).select_from(Response)))
        db.session.remove()
        db.engine.dispose()
    return count


def in_process(uri: str, instance: Path, data: bytes) -> dict[str, float]:
    """Phase 1: the check and the write transaction, timed apart."""
    app = make_app(uri, instance)
    locked: list[float] = []
    lock_head = ledger.lock_head

    def timed_lock_head(session):  # the first call in the transaction takes the lock
        locked.append(time.perf_counter())
        return lock_head(session)

    with app.app_context():
        start = time.perf_counter()
        checked = imports.check_file(db.session, data, allowed=None)
        db.session.rollback()
        checked_at = time.perf_counter()
        ledger.lock_head = timed_lock_head
        try:
            with write_transaction(db.session):
                imports.store_file(db.session, checked, actor=None, filename="phase1.csv")
        finally:
            ledger.lock_head = lock_head
        done = time.perf_counter()
        db.session.remove()
        db.engine.dispose()
    return {"check": checked_at - start, "write": done - checked_at, "total": done - start,
            "chain lock": done - locked[0]}


def manager_session(base: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/auth/login", timeout=30)
    token = CSRF.search(page.text).group(1)
    answer = session.post(f"{base}/auth/login", data={
        "csrf_token": token, "email": MANAGER[0], "password": MANAGER[1]},
        allow_redirects=False, timeout=30)
    if answer.status_code not in (302, 303):
        raise RuntimeError(f"manager login answered {answer.status_code}")
    return session


def upload(session: requests.Session, base: str, data: bytes, name: str
           ) -> tuple[int, float, str]:
    """POST a file on the import page; returns the status, seconds and the page's text."""
    page = session.get(f"{base}/kertas/impor", timeout=30)
    token = CSRF.search(page.text).group(1)
    start = time.perf_counter()
    answer = session.post(f"{base}/kertas/impor", data={"csrf_token": token},
                          files={"file": (name, data, "text/csv")},
                          allow_redirects=False, timeout=300)
    return answer.status_code, time.perf_counter() - start, answer.text


def citizens_during(base: str, path: str, rate: float, job
                    ) -> tuple[list[Sample], object, list[Sample]]:
    """Citizens arrive every 1/rate s from before `job()` starts until one second after it
    ends; returns the samples of those who arrived while it ran, its result, and every
    sample."""
    samples: list[Sample] = []
    lock = threading.Lock()
    window: dict[str, float] = {}
    stop = threading.Event()

    def citizen(i: int, scheduled: float) -> None:
        sample = cycle(base, path, random.Random(i), scheduled)
        with lock:
            samples.append(sample)

    def arrivals() -> None:
        begin, i, threads = time.perf_counter(), 0, []
        while not stop.is_set():
            scheduled = begin + i / rate
            time.sleep(max(0.0, scheduled - time.perf_counter()))
            thread = threading.Thread(target=citizen, args=(i, scheduled))
            thread.start()
            threads.append(thread)
            i += 1
        for thread in threads:
            thread.join()

    generator = threading.Thread(target=arrivals)
    generator.start()
    time.sleep(1.0)
    window["from"] = time.perf_counter()
    result = job()
    window["to"] = time.perf_counter()
    time.sleep(1.0)
    stop.set()
    generator.join()
    during = [s for s in samples if window["from"] <= s.scheduled <= window["to"]]
    return during, result, samples


def measure(label: str, args: argparse.Namespace, work: Path) -> dict:
    database = fresh_database(label, "survey", work, "_imports" + ("_smoke" if args.smoke else ""))
    instance = work / f"instance-{label}"
    shutil.rmtree(instance, ignore_errors=True)
    instance.mkdir()
    path = prepare(database.uri, instance)
    result: dict = {"label": label}
    print(f"  {label}: import of {args.rows:,} rows in process ...", flush=True)
    result["alone"] = in_process(database.uri, instance, csv_file(args.rows, 1))
    expected = args.rows

    env = {"DATABASE_URL": database.uri, "SECRET_KEY": SECRET,
           "SURVEY_INSTANCE_PATH": str(instance), "SUBMIT_RATE_LIMIT": "1000000 per minute",
           "SURVEY_MIN_FILL_SECONDS": "0", "SURVEY_BURST_LIMIT": "100000000",
           "ALLOW_PER_PROCESS_LIMITS": "1"}
    server = start_gunicorn("survey:create_app()", env, 2, work / f"gunicorn-{label}.log", path)
    try:
        manager = manager_session(server.base)
        print(f"  {label}: web upload of {args.rows:,} rows, citizens at {args.rate:g}/s ...",
              flush=True)
        data = csv_file(args.rows, 2)
        during, (status, seconds, _text), everyone = citizens_during(
            server.base, path, args.rate, lambda: upload(manager, server.base, data, "two.csv"))
        result["upload"] = (status, seconds)
        result["citizens"] = during
        result["citizens_ok"] = sum(s.ok for s in everyone)
        result["citizens_failed"] = [s.detail for s in everyone if not s.ok]
        expected += args.rows * (status == 303) + result["citizens_ok"]

        limit = args.limit or imports.MAX_ROWS
        big = min(int(args.rows * 2.5), limit)
        print(f"  {label}: web upload of {big:,} rows ...", flush=True)
        status, seconds, _text = upload(manager, server.base, csv_file(big, 3), "big.csv")
        result["big"] = (big, status, seconds)
        expected += big * (status == 303)

        print(f"  {label}: web upload of {limit + 1:,} rows (over the limit) ...", flush=True)
        status, seconds, text = upload(manager, server.base, csv_file(limit + 1, 4), "over.csv")
        named = f"{limit:,}" in text or f"{limit:,}".replace(",", ".") in text
        result["over"] = (limit + 1, status, seconds, named)
    finally:
        server.stop()
    result["stored"] = stored(database.uri, instance)
    result["expected"] = expected
    database.target.drop()
    return result


def report(results: list[dict], args: argparse.Namespace) -> list[str]:
    names = [r["label"] for r in results]
    print()
    print(f"# CSV import of {args.rows:,} paper responses (5 desks, a comment on every fifth)")
    print(about(args.load_before))
    print()

    def pcts(values: list[float]) -> str:
        if not values:
            return "-"
        return " / ".join(f"{percentile(values, q) * 1e3:,.0f}" for q in (50, 99))

    rows = [
        ["1. check: parse, validate, anonymise (s)",
         *(f"{r['alone']['check']:.2f}" for r in results)],
        ["   write transaction (s; SQLite: other writers wait this long)",
         *(f"{r['alone']['write']:.2f}" for r in results)],
        ["   chain lock held (s; PostgreSQL: citizens wait at most this long)",
         *(f"{r['alone']['chain lock']:.2f}" for r in results)],
        [f"   total (s; goal < {GOAL_SECONDS:g} for 30,000)",
         *(f"{r['alone']['total']:.2f}" for r in results)],
        ["   rows/s", *(f"{args.rows / r['alone']['total']:,.0f}" for r in results)],
        [f"2. web upload, citizens at {args.rate:g}/s: upload status, s",
         *(f"{r['upload'][0]}, {r['upload'][1]:.2f}" for r in results)],
        ["   citizens during the upload", *(str(len(r["citizens"])) for r in results)],
        ["   their POST p50 / p99 (ms)",
         *(pcts([s.post for s in r["citizens"]]) for r in results)],
        ["   their slowest POST (ms)",
         *(f"{max((s.post for s in r['citizens']), default=0) * 1e3:,.0f}" for r in results)],
        ["   failed citizen submissions", *(str(len(r["citizens_failed"])) for r in results)],
        ["3. web upload of {:,} rows: status, s".format(results[0]["big"][0]),
         *(f"{r['big'][1]}, {r['big'][2]:.2f}" for r in results)],
        ["4. web upload of {:,} rows: status, s, message names the limit".format(
            results[0]["over"][0]),
         *(f"{r['over'][1]}, {r['over'][2]:.2f}, {'yes' if r['over'][3] else 'no'}"
           for r in results)],
        ["responses stored / expected", *(f"{r['stored']:,} / {r['expected']:,}" for r in results)],
    ]
    print(table(["measure", *names], rows))
    failures = []
    for r in results:
        if r["stored"] != r["expected"]:
            failures.append(f"{r['label']}: {r['expected']:,} acknowledged, {r['stored']:,} stored")
        if r["citizens_failed"]:
            failures.append(f"{r['label']}: {len(r['citizens_failed'])} citizens failed, e.g. "
                            f"{r['citizens_failed'][0]}")
        if r["upload"][0] != 303 or r["big"][1] != 303:
            failures.append(f"{r['label']}: an upload within the limit was not accepted")
        if r["over"][1] != 422 or not r["over"][3]:
            failures.append(f"{r['label']}: the upload over the limit was not refused with "
                            "a message naming the limit")
    print()
    print("## checks")
    for f in failures:
        print("FAIL ", f)
    if not failures:
        print("ok    every acknowledged row and submission stored; the upload over the limit "
              "refused")
    return failures


SMOKE = {"backends": "sqlite", "rows": 600, "rate": 5.0, "limit": 1000}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--rate", type=float, default=10.0, help="citizens per second")
    parser.add_argument("--limit", type=int, default=0,
                        help="rows per file the server accepts (default: the application's)")
    args = parse_args(parser, argv, SMOKE, "SQLite, 600 rows")
    args.load_before = os.getloadavg()
    if args.limit:
        os.environ["SURVEY_IMPORT_MAX_ROWS"] = str(args.limit)
    results = []
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        for label in backend_labels(args.backends):
            print(f"{label}:", flush=True)
            results.append(measure(label, args, Path(tmp)))
    return 1 if report(results, args) else 0


if __name__ == "__main__":
    sys.exit(main())
