"""Where a citizen submission's server CPU goes. Run: ``python -m benchmarks.submit_profile``
(``--smoke``: a few cycles on SQLite, for the checks only).

The same cycle as benchmarks/submit.py (a new client session: GET /s/<slug>, then POST the
nine answers and the service, answered with 303), but in-process through Flask's test
client, with no WSGI server, network or load generator: the application's own CPU. Per
database, after a warm-up: CPU time per GET and per POST (``time.process_time``), SQL
statements per cycle, then a cProfile timed by CPU (so waiting for PostgreSQL is not
counted) grouped by library and by the application's modules, and the application's
functions with the most cumulative CPU. Exit status 1 when a submission is not stored.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import event, func, select

from benchmarks.lib import Checks, about, backend_labels, make_app, parse_args, table
from benchmarks.submit import FIELD, SERVICE, fresh_database, prepare_survey
from survey.core.db import db
from survey.core.models import Response

AREAS = (("sqlalchemy", "SQLAlchemy"), ("psycopg", "psycopg"), ("jinja2", "Jinja2"),
         (".html", "Jinja2 (templates)"), ("werkzeug", "Werkzeug"),
         ("flask_limiter", "Flask-Limiter"), ("/limits/", "Flask-Limiter"),
         ("flask_wtf", "Flask-WTF"), ("wtforms", "Flask-WTF"), ("babel", "Babel"),
         ("flask_login", "Flask-Login"), ("itsdangerous", "itsdangerous (cookies)"),
         ("/flask/", "Flask"), ("redis", "redis"))


def area(filename: str, function: str) -> str:
    """The library (or the application's module) a profiled function belongs to."""
    if filename.endswith(".html"):
        return "Jinja2 (templates)"
    if "/survey/" in filename:
        return "survey/" + filename.split("/survey/", 1)[1]
    for part, name in AREAS:
        if part in filename:
            return name
    if function.startswith("<method") and "sqlite3" in function:
        return "sqlite3 (C)"
    return "Python and C built-ins"


def cycle(client_factory, path: str, rng: random.Random) -> tuple[float, float, bool]:
    """One citizen; the CPU of the GET and of the POST, and whether it was acknowledged."""
    client = client_factory()
    t0 = time.process_time()
    page = client.get(path).get_data(as_text=True)
    t1 = time.process_time()
    fields = dict(FIELD.findall(page))
    service = SERVICE.search(page)
    if service:
        fields["service"] = service.group(1)
    fields.update({f"U{i}": str(rng.randint(1, 4)) for i in range(1, 10)})
    t2 = time.process_time()
    answer = client.post(path, data=fields)
    t3 = time.process_time()
    return t1 - t0, t3 - t2, answer.status_code == 303


def run(backend: str, args: argparse.Namespace, checks: Checks, work: Path) -> list[str]:
    database = fresh_database(backend, "survey", work, "_profile")
    try:
        path = prepare_survey(database, work)
        app = make_app(database.uri, work)
        # As the load benchmark's server: no minimum fill time, no per-address limit in
        # the way (the limiter still runs), the memory store.
        app.config.update(SURVEY_MIN_FILL_SECONDS=0, SUBMIT_RATE_LIMIT="1000000 per minute")
        rng = random.Random(args.seed)
        statements = [0]
        with app.app_context():
            engine = db.engine

        shown: list[str] = []
        recording = [False]

        @event.listens_for(engine, "before_cursor_execute")
        def count(_conn, _cursor, statement, *_args) -> None:
            statements[0] += 1
            if recording[0]:
                shown.append(" ".join(statement.split())[:150])

        for _ in range(args.warmup):
            cycle(app.test_client, path, rng)
        if args.show_sql:
            recording[0] = True
            cycle(app.test_client, path, rng)
            recording[0] = False
            print(f"## {backend}: the SQL statements of one cycle")
            print("\n".join(f"{i:3d}  {line}" for i, line in enumerate(shown, 1)))
        statements[0] = 0
        gets, posts, ok = [], [], 0
        for _ in range(args.cycles):
            g, p, acknowledged = cycle(app.test_client, path, rng)
            gets.append(g)
            posts.append(p)
            ok += acknowledged
        per_cycle = statements[0] / args.cycles
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for _ in range(args.cycles):
            ok += cycle(app.test_client, path, rng)[2]
        profiler.disable()
        with app.app_context():
            stored = db.session.scalar(select(func.count()).select_from(Response))
        expected = args.warmup + 2 * args.cycles + args.show_sql
        checks.add(f"{backend}: every submission acknowledged and stored",
                   ok == 2 * args.cycles and stored == expected,
                   f"{ok} acknowledged, {stored} stored of {expected}")
    finally:
        database.target.drop()

    stats = pstats.Stats(profiler)
    total = sum(v[2] for v in stats.stats.values())
    by_area: dict[str, float] = defaultdict(float)
    for (filename, _line, function), (_cc, _nc, tottime, _ct, _callers) in \
            stats.stats.items():
        by_area[area(filename, function)] += tottime
    n = args.cycles
    lines = [f"## {backend}: CPU per cycle (median of {n}): GET {1000 * sorted(gets)[n // 2]:.2f}"
             f" ms, POST {1000 * sorted(posts)[n // 2]:.2f} ms; {per_cycle:.1f} SQL "
             "statements per cycle", ""]
    rows = [[name, f"{1000 * t / n:.2f} ms", f"{100 * t / total:.1f}%"]
            for name, t in sorted(by_area.items(), key=lambda kv: -kv[1])[:args.top]]
    lines += ["self CPU by library / module (under the profiler, which adds its own cost):",
              table(["where", "per cycle", "share"], rows), ""]
    ours = sorted(((ct, f"{fn} ({file.split('/survey/', 1)[1]}:{line})")
                   for (file, line, fn), (_cc, _nc, _tt, ct, _callers) in stats.stats.items()
                   if "/survey/" in file), reverse=True)[:args.top]
    rows = [[name, f"{1000 * ct / n:.2f} ms", f"{100 * ct / total:.1f}%"] for ct, name in ours]
    lines += ["the application's functions by cumulative CPU (their callees included):",
              table(["function", "per cycle", "share"], rows)]
    return lines


SMOKE = {"cycles": 20, "warmup": 5, "backends": "sqlite", "top": 8}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--top", type=int, default=18, help="rows per table")
    parser.add_argument("--show-sql", action="store_true",
                        help="print the statements of one cycle after the warm-up")
    args = parse_args(parser, argv, SMOKE, "20 cycles on SQLite")
    load = os.getloadavg()
    checks = Checks()
    out: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backend_labels(args.backends):
            out += [*run(backend, args, checks, Path(tmp)), ""]
    print("# Citizen submission, in-process CPU profile (benchmarks/submit_profile.py)")
    print(about(load, "%Y-%m-%d %H:%M %Z"))
    print()
    print("\n".join(out))
    checks.print()
    return 0 if checks.ok else 1


if __name__ == "__main__":
    sys.exit(main())
