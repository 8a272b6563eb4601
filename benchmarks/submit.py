"""Citizen submissions against gunicorn. Run: ``python -m benchmarks.submit``
(``--smoke``: SQLite only, a few clients for about a second per phase, for the checks only).

The full citizen cycle, a new client session each: GET /s/<slug> (the form, its CSRF
cookie and token), then POST the nine answers and the service (answered with 303; the
redirect to the thank-you page is not followed). Against gunicorn with 2 sync workers on
SQLite (WAL file) and on PostgreSQL, side by side in the same run with a bare Flask app
(benchmarks/bare_app.py: one GET, one POST inserting one row into a one-table database,
same gunicorn settings, same load): the ceiling of this stack.

1. Max throughput: closed loop, N concurrent clients (default 16, as threads in 2 client
   processes) for a fixed time.
2. Steady load: open loop at 50 submissions/s, and at 25/s (arrivals on a fixed schedule;
   latency is measured from the scheduled arrival, so a saturated server cannot hide
   queueing).

Goals (issue): at least half of the ceiling's throughput; p99 under 100 ms at a steady 50
submissions/s; design.md §8: at least 20x LimeSurvey's ~5 complete submissions/s.

The load generator is Python (threads + requests) on the same 2-core machine: client and
server compete for the CPU, so the CPU each side used is reported too. Every submission
must succeed and every successful POST must be stored (exit status 1 otherwise).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests
from sqlalchemy import create_engine, func, select, text

from benchmarks.bare_app import make_engine, metadata
from benchmarks.lib import (
    OUT,
    ROOT,
    Target,
    about,
    backend_labels,
    make_app,
    ms,
    parse_args,
    percentile,
    table,
)
from survey.core.db import db
from survey.core.org.agencies import create_agency
from survey.core.org.desks import create_desk
from survey.core.org.services import create_service
from survey.core.seed import seed_standards

SECRET = "benchmark-secret-key-0123456789abcdef"
FIELD = re.compile(r'name="(csrf_token|idempotency_key|t)" value="([^"]*)"')
SERVICE = re.compile(r'<select name="service"[^>]*>.*?<option value="(\d+)"', re.S)
LIMESURVEY = 5.0  # complete submissions/s, design.md §8


# --- Servers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A gunicorn master process serving one app."""

    process: subprocess.Popen
    base: str
    log: Path

    def cpu_seconds(self) -> float:
        """User + system CPU of the master and its workers so far."""
        return sum(_proc_cpu(pid) for pid in [self.process.pid, *worker_pids(self.process.pid)])

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def worker_pids(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    tick = os.sysconf("SC_CLK_TCK")
    return (total - idle) / tick, total / tick


def start_gunicorn(app_spec: str, env: dict[str, str], workers: int, log: Path,
                   probe: str) -> Server:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
               "--timeout", "60", "--graceful-timeout", "5", "--log-level", "warning"]
    full_env = {**os.environ, **env, "PUBLIC_BASE_URL": base}
    full_env.pop("FLASK_DEBUG", None)
    handle = log.open("wb")
    process = subprocess.Popen([*command, app_spec], env=full_env, stdout=handle,
                               stderr=subprocess.STDOUT, cwd=ROOT)
    handle.close()
    deadline = time.time() + 30
    while True:
        try:
            if requests.get(base + probe, timeout=5).status_code == 200:
                break
        except (requests.ConnectionError, requests.Timeout):
            pass
        if process.poll() is not None or time.time() > deadline:
            process.kill()
            raise RuntimeError(f"gunicorn did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return Server(process, base, log)


# --- Databases ------------------------------------------------------------------------------


@dataclass
class Database:
    """A fresh database for one (backend, app) pair of the run."""

    target: Target
    app: str  # "survey" | "bare"

    @property
    def uri(self) -> str:
        return self.target.uri

    def count(self) -> int:
        """Rows stored: responses (survey) or submissions (bare)."""
        engine = create_engine(self.uri)
        try:
            with engine.connect() as conn:
                table_name = "response" if self.app == "survey" else "submission"
                return int(conn.scalar(select(func.count()).select_from(text(table_name))))
        finally:
            engine.dispose()


def fresh_database(backend: str, app: str, work: Path, suffix: str = "") -> Database:
    """An empty database: a SQLite file in the work directory, or PostgreSQL database
    bench_submit_<app><suffix>."""
    target = Target(backend, f"bench_submit_{app}{suffix}", work)
    target.reset()
    return Database(target, app)


def prepare_survey(database: Database, instance: Path) -> str:
    """The application's schema, the standard questionnaires, one agency with one desk and
    one service; returns the desk's public path."""
    app = make_app(database.uri, instance)
    with app.app_context():
        db.create_all()
        seed_standards(db.session)
        create_agency(db.session, "KEC-BENCH", "Kecamatan Benchmark", actor=None)
        desk = create_desk(db.session, "KEC-BENCH", "L1", "Loket 1", actor=None)
        create_service(db.session, "KEC-BENCH", "KTP", "KTP-el", "ID card", ["L1"],
                       actor=None)
        db.session.commit()
        path = f"/s/{desk.slug}"
        db.session.remove()
        db.engine.dispose()
    return path


def prepare_bare(database: Database) -> str:
    engine = make_engine(database.uri)
    metadata.create_all(engine)
    engine.dispose()
    return "/s/bare"


# --- Load -------------------------------------------------------------------------------------


@dataclass
class Sample:
    scheduled: float
    start: float
    end: float
    post: float  # POST latency alone
    ok: bool
    detail: str = ""

    @property
    def total(self) -> float:
        return self.end - self.scheduled


def cycle(base: str, path: str, rng: random.Random, scheduled: float | None = None) -> Sample:
    """One citizen: a new session opens the form and posts nine answers."""
    start = time.perf_counter()
    with requests.Session() as session:
        try:
            page = session.get(base + path, timeout=60)
            fields = dict(FIELD.findall(page.text))
            service = SERVICE.search(page.text)
            if service:
                fields["service"] = service.group(1)
            fields.update({f"U{i}": str(rng.randint(1, 4)) for i in range(1, 10)})
            t_post = time.perf_counter()
            answer = session.post(base + path, data=fields, allow_redirects=False, timeout=60)
            end = time.perf_counter()
            ok = page.status_code == 200 and answer.status_code == 303
            detail = "" if ok else f"GET {page.status_code}, POST {answer.status_code}"
        except requests.RequestException as exc:
            end = t_post = time.perf_counter()
            ok, detail = False, type(exc).__name__
    return Sample(start if scheduled is None else scheduled, start, end, end - t_post, ok,
                  detail)


@dataclass
class Run:
    """One load phase against one server."""

    samples: list[Sample] = field(default_factory=list)
    duration: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    machine_busy: float = 0.0  # share of all CPUs busy during the phase
    posted_ok: int = 0  # including warm-up
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.samples) / self.duration if self.duration else 0.0


class Meter:
    """CPU used by the client, the server and the machine over a phase."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.client0 = time.process_time()
        self.server0 = server.cpu_seconds()
        self.busy0, self.total0 = machine_busy()

    def finish(self, run: Run) -> None:
        run.client_cpu = time.process_time() - self.client0
        run.server_cpu = self.server.cpu_seconds() - self.server0
        busy, total = machine_busy()
        run.machine_busy = (busy - self.busy0) / max(total - self.total0, 1e-9)


def _closed_worker(base: str, path: str, threads: int, first_seed: int, measure_from: float,
                   stop_at: float) -> tuple[list[Sample], int, list[str], float]:
    """One client process of the closed loop: `threads` clients submitting back to back.
    Returns the samples that end inside the window, the successful POSTs (warm-up
    included), the failures and this process's CPU seconds inside the window."""
    samples: list[Sample] = []
    errors: list[str] = []
    posted = [0]
    cpu: dict[str, float] = {}
    lock = threading.Lock()

    def client(seed: int) -> None:
        rng = random.Random(seed)
        while time.perf_counter() < stop_at:
            sample = cycle(base, path, rng)
            with lock:
                posted[0] += sample.ok
                if measure_from <= sample.end <= stop_at:
                    samples.append(sample)
                if not sample.ok:
                    errors.append(sample.detail)

    def cpu_probe() -> None:
        time.sleep(max(0.0, measure_from - time.perf_counter()))
        cpu["from"] = time.process_time()
        time.sleep(max(0.0, stop_at - time.perf_counter()))
        cpu["to"] = time.process_time()

    workers = [threading.Thread(target=client, args=(first_seed + k,)) for k in range(threads)]
    workers.append(threading.Thread(target=cpu_probe))
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return samples, posted[0], errors, cpu["to"] - cpu["from"]


def closed_loop(server: Server, path: str, clients: int, processes: int, warmup: float,
                duration: float) -> Run:
    """`clients` clients (threads spread over `processes` client processes, so that the
    load generator is not held to one core by the GIL), each submitting back to back;
    counts the submissions that end inside the measured window."""
    run = Run()
    begin = time.perf_counter() + 1.0  # time for the client processes to start
    measure_from, stop_at = begin + warmup, begin + warmup + duration
    shares = [clients // processes + (k < clients % processes) for k in range(processes)]
    with ProcessPoolExecutor(max_workers=processes) as executor:
        futures = [executor.submit(_closed_worker, server.base, path, n, 1000 * k,
                                   measure_from, stop_at)
                   for k, n in enumerate(shares) if n]
        time.sleep(max(0.0, measure_from - time.perf_counter()))
        meter = Meter(server)
        time.sleep(max(0.0, stop_at - time.perf_counter()))
        meter.finish(run)
        run.client_cpu = 0.0
        for future in futures:
            samples, posted, errors, cpu = future.result()
            run.samples += samples
            run.posted_ok += posted
            run.errors += errors
            run.client_cpu += cpu
    run.duration = duration
    return run


def open_loop(server: Server, path: str, rate: float, warmup: float, duration: float,
              pool: int) -> Run:
    """Arrivals every 1/rate seconds on a fixed schedule, each served by a thread from a
    pool; latency counts from the scheduled arrival."""
    run = Run()
    lock = threading.Lock()
    total = int(rate * (warmup + duration))
    skip = int(rate * warmup)
    begin = time.perf_counter() + 0.2
    meter: Meter | None = None

    def job(i: int, scheduled: float) -> None:
        sample = cycle(server.base, path, random.Random(i), scheduled)
        with lock:
            run.posted_ok += sample.ok
            if i >= skip:
                run.samples.append(sample)
            if not sample.ok:
                run.errors.append(sample.detail)

    with ThreadPoolExecutor(max_workers=pool) as executor:
        for i in range(total):
            scheduled = begin + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            if i == skip:
                meter = Meter(server)
            executor.submit(job, i, scheduled)
    assert meter is not None
    meter.finish(run)
    first = min(s.scheduled for s in run.samples)
    last = max(s.end for s in run.samples)
    run.duration = last - first
    return run


# --- Orchestration ---------------------------------------------------------------------------


@dataclass
class Column:
    """One (backend, app) pair and its two load phases."""

    backend: str
    app: str
    page_bytes: int = 0
    closed: Run | None = None
    steady: dict[float, Run] = field(default_factory=dict)
    stored: int = 0

    @property
    def label(self) -> str:
        return f"{self.backend} {self.app}"


def measure(backend: str, app: str, args: argparse.Namespace, work: Path) -> Column:
    column = Column(backend, app)
    database = fresh_database(backend, app, work, "_smoke" if args.smoke else "")
    instance = work / f"instance-{backend}-{app}"
    shutil.rmtree(instance, ignore_errors=True)
    instance.mkdir()
    if app == "survey":
        path = prepare_survey(database, instance)
        env = {"DATABASE_URL": database.uri, "SECRET_KEY": SECRET,
               "SURVEY_INSTANCE_PATH": str(instance),
               "SUBMIT_RATE_LIMIT": "1000000 per minute",
               # A load generator posts at once and from one address: without these the
               # responses would be flagged (too fast, burst) and skip the clean rollups.
               "SURVEY_MIN_FILL_SECONDS": "0", "SURVEY_BURST_LIMIT": "100000000",
               "ALLOW_PER_PROCESS_LIMITS": "1"}  # the limits are lifted, not measured
        server = start_gunicorn("survey:create_app()", env, args.workers,
                                work / f"gunicorn-{backend}-{app}.log", path)
    else:
        path = prepare_bare(database)
        server = start_gunicorn("benchmarks.bare_app:create_app()",
                                {"BARE_DATABASE_URL": database.uri}, args.workers,
                                work / f"gunicorn-{backend}-{app}.log", path)
    try:
        column.page_bytes = len(requests.get(server.base + path, timeout=30).content)
        print(f"  {column.label}: closed loop, {args.clients} clients ...", flush=True)
        column.closed = closed_loop(server, path, args.clients, args.client_processes,
                                    args.warmup, args.duration)
        for rate in args.rates:
            print(f"  {column.label}: open loop, {rate:g}/s ...", flush=True)
            column.steady[rate] = open_loop(server, path, rate, args.warmup,
                                            args.steady_duration, args.pool)
    finally:
        server.stop()
    column.stored = database.count()
    database.target.drop()
    return column


def report(columns: list[Column], args: argparse.Namespace) -> list[str]:
    """Print the tables; returns the failed checks."""
    names = [c.label for c in columns]
    ceiling = {c.backend: c for c in columns if c.app == "bare"}
    print()
    print(f"# Submissions against gunicorn ({args.workers} sync workers), full cycle GET "
          f"form + POST answers, new session each")
    print(about(args.load_before))
    print()

    def pcts(values: list[float]) -> str:
        return " / ".join(f"{percentile(values, q) * 1e3:.0f}" for q in (50, 95, 99))

    rows = []
    closed = [c.closed for c in columns]
    rows.append(["submissions/s", *(f"{r.rate:,.1f}" for r in closed)])
    rows.append(["  share of the bare ceiling (goal >= 50%)",
                 *(f"{c.closed.rate / ceiling[c.backend].closed.rate:.0%}"
                   if c.app == "survey" and c.backend in ceiling else "-" for c in columns)])
    rows.append([f"  x LimeSurvey ({LIMESURVEY:g}/s; goal >= 20x)",
                 *(f"{r.rate / LIMESURVEY:,.1f}x" for r in closed)])
    rows.append(["full cycle p50 / p95 / p99 (ms)",
                 *(pcts([s.total for s in r.samples]) for r in closed)])
    rows.append(["POST alone p50 / p95 / p99 (ms)",
                 *(pcts([s.post for s in r.samples]) for r in closed)])
    rows.append(["client CPU per submission",
                 *(ms(r.client_cpu / max(len(r.samples), 1)) for r in closed)])
    rows.append(["gunicorn CPU per submission",
                 *(ms(r.server_cpu / max(len(r.samples), 1)) for r in closed)])
    rows.append(["machine CPU busy (2 cores)", *(f"{r.machine_busy:.0%}" for r in closed)])
    rows.append(["failed submissions", *(str(len(r.errors)) for r in closed)])
    print(f"## max throughput: closed loop, {args.clients} clients in {args.client_processes} "
          f"client processes, {args.duration:g} s after {args.warmup:g} s warm-up")
    print(table(["measure", *names], rows))
    print()

    for rate in args.rates:
        rows = []
        steady = [c.steady[rate] for c in columns]
        rows.append(["achieved submissions/s", *(f"{r.rate:,.1f}" for r in steady)])
        goal = "; goal p99 < 100" if rate == 50 else ""
        rows.append([f"full cycle p50 / p95 / p99 (ms{goal})",
                     *(pcts([s.total for s in r.samples]) for r in steady)])
        rows.append(["POST alone p50 / p95 / p99 (ms)",
                     *(pcts([s.post for s in r.samples]) for r in steady)])
        rows.append(["max full cycle (ms)",
                     *(f"{max(s.total for s in r.samples) * 1e3:.0f}" for r in steady)])
        rows.append(["gunicorn CPU per submission",
                     *(ms(r.server_cpu / max(len(r.samples), 1)) for r in steady)])
        rows.append(["machine CPU busy (2 cores)", *(f"{r.machine_busy:.0%}" for r in steady)])
        rows.append(["failed submissions", *(str(len(r.errors)) for r in steady)])
        print(f"## steady load: open loop, {rate:g} submissions/s for "
              f"{args.steady_duration:g} s after {args.warmup:g} s warm-up (latency from the "
              "scheduled arrival)")
        print(table(["measure", *names], rows))
        print()
    print(f"form page: {', '.join(f'{c.label} {c.page_bytes:,} bytes' for c in columns)} "
          "(HTML only)")

    failures = []
    for c in columns:
        phases = [c.closed, *c.steady.values()]
        posted = sum(r.posted_ok for r in phases)
        errors = [e for r in phases for e in r.errors]
        if errors:
            failures.append(f"{c.label}: {len(errors)} failed submissions, e.g. {errors[0]}")
        if c.stored != posted:
            failures.append(f"{c.label}: {posted} submissions answered 303 but {c.stored} "
                            "rows stored")
    print()
    print("## checks")
    if failures:
        for f in failures:
            print("FAIL ", f)
    else:
        print("ok    every submission answered 303 and every one was stored "
              f"({', '.join(f'{c.label} {c.stored:,}' for c in columns)})")
    return failures


# --smoke: SQLite only, two clients in one client process, about a second per phase.
SMOKE = {"backends": "sqlite", "clients": 2, "client_processes": 1, "duration": 1.0,
         "rates": "5", "steady_duration": 1.0, "warmup": 0.5, "pool": 4}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=15.0, help="closed loop, seconds")
    parser.add_argument("--client-processes", type=int, default=2,
                        help="closed loop: client processes the clients are spread over")
    parser.add_argument("--rates", default="50,25",
                        help="open loop: steady rates, submissions/s (comma-separated)")
    parser.add_argument("--steady-duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--pool", type=int, default=64, help="open-loop client threads")
    args = parse_args(parser, argv, SMOKE, "SQLite, 2 clients, 1 s phases "
                      "(bench_submit_*_smoke on PostgreSQL)")
    args.load_before = os.getloadavg()
    args.rates = [float(r) for r in args.rates.split(",") if r.strip()]

    labels = backend_labels(args.backends)
    OUT.mkdir(parents=True, exist_ok=True)
    columns: list[Column] = []
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        work = Path(tmp)
        for label in labels:
            print(f"{label}:", flush=True)
            for app in ("survey", "bare"):
                columns.append(measure(label, app, args, work))
    failures = report(columns, args)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
