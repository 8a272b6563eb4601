"""Fault runs: citizens keep submitting while things break, and every acknowledged response
must be stored.

    python -m benchmarks.faults [--backends sqlite,postgresql] [--duration 30] [--rate 20]
    python -m benchmarks.faults --smoke   # SQLite, kill -9 only, a few seconds

Citizens arrive on a fixed schedule (`--rate` per second). Each opens the form (GET) and
sends it (POST); an answer of 303 is an acknowledgement. A POST that fails (no answer, a
5xx) is sent again once, a second later, with the same idempotency key, as a citizen
tapping "send" again would. Against gunicorn with 4 workers, per database:

1. kill -9: every 2 s one worker process is killed with SIGKILL (gunicorn starts a new
   one), mid-request or not.
2. Database restart (PostgreSQL): a third of the way in, the PostgreSQL cluster this
   machine runs is restarted (`pg_ctlcluster <version> main restart`, fast mode: every
   connection is cut). It must be the cluster the benchmark's database is on, and nothing
   else should be using it meanwhile.
3. Redis down: the rate limits and counting signals use a Redis server of the
   benchmark's own (started on a free port); it is killed a third of the way in and
   started again at two thirds.

Counted at the end, from the database: every acknowledged idempotency key must be stored
(lost = 0, else exit status 1); stored but not acknowledged (the worker died after the
commit; the citizen saw an error) and duplicates (must be 0) are reported.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

from benchmarks.lib import OUT, about, backend_labels, parse_args, table
from benchmarks.submit import (
    FIELD,
    SECRET,
    SERVICE,
    fresh_database,
    prepare_survey,
    start_gunicorn,
    worker_pids,
)

WORKERS = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Tally:
    acknowledged: set[str] = field(default_factory=set)
    outcomes: Counter = field(default_factory=Counter)
    retried: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def citizen(base: str, path: str, rng: random.Random, tally: Tally) -> None:
    with requests.Session() as session:
        try:
            page = session.get(base + path, timeout=30)
        except requests.RequestException:
            with tally.lock:
                tally.outcomes["form did not open"] += 1
            return
        if page.status_code != 200:
            with tally.lock:
                tally.outcomes[f"form {page.status_code}"] += 1
            return
        fields = dict(FIELD.findall(page.text))
        service = SERVICE.search(page.text)
        if service:
            fields["service"] = service.group(1)
        fields.update({f"U{i}": str(rng.randint(1, 4)) for i in range(1, 10)})
        for attempt in (1, 2):
            try:
                answer = session.post(base + path, data=fields, allow_redirects=False,
                                      timeout=30)
                status = answer.status_code
            except requests.RequestException:
                status = None
            if status == 303:
                with tally.lock:
                    tally.acknowledged.add(fields["idempotency_key"])
                    tally.outcomes["acknowledged" + (" on retry" if attempt == 2 else "")] += 1
                    tally.retried += attempt == 2
                return
            if status is not None and status < 500:
                with tally.lock:
                    tally.outcomes[f"refused {status}"] += 1
                return
            if attempt == 1:
                time.sleep(1.0)
        with tally.lock:
            tally.outcomes[f"failed twice ({status or 'no answer'})"] += 1


def load(base: str, path: str, rate: float, duration: float,
         events: Sequence[tuple[float, Callable[[], None]]]) -> Tally:
    """Citizens at `rate` per second for `duration` seconds; `events` run at their
    offsets (seconds from the start) in a thread of their own."""
    tally = Tally()
    threads: list[threading.Thread] = []
    start = time.perf_counter()

    def run_events() -> None:
        for offset, action in sorted(events, key=lambda e: e[0]):
            time.sleep(max(0.0, start + offset - time.perf_counter()))
            action()

    director = threading.Thread(target=run_events)
    director.start()
    for i in range(int(rate * duration)):
        time.sleep(max(0.0, start + i / rate - time.perf_counter()))
        thread = threading.Thread(target=citizen, args=(base, path, random.Random(i), tally))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    director.join()
    return tally


def stored_keys(uri: str) -> tuple[set[str], int]:
    """The idempotency keys stored, and how many keys are stored more than once."""
    engine = create_engine(uri)
    try:
        with engine.connect() as conn:
            keys = [k for (k,) in conn.execute(text(
                "SELECT idempotency_key FROM response WHERE idempotency_key IS NOT NULL"))]
    finally:
        engine.dispose()
    return set(keys), len(keys) - len(set(keys))


# --- the faults -------------------------------------------------------------------------------


def killer(server_pid: int, every: float, duration: float, killed: list[int]
           ) -> list[tuple[float, Callable[[], None]]]:
    def kill_one() -> None:
        workers = worker_pids(server_pid)
        if workers:
            victim = random.choice(workers)
            try:
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)
            except ProcessLookupError:
                pass
    return [(t, kill_one) for t in _times(every, duration)]


def _times(every: float, duration: float) -> list[float]:
    return [every * k for k in range(1, int(duration / every))]


def pg_restart(outages: list[float]) -> Callable[[], None]:
    def restart() -> None:
        version = sorted(os.listdir("/etc/postgresql"))[-1]
        began = time.perf_counter()
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", "--mode", "fast",
                        version, "main", "restart"], check=True, capture_output=True)
        outages.append(time.perf_counter() - began)
    return restart


class OwnRedis:
    """A Redis server of the benchmark's own, on a free port, that can be killed and
    started again."""

    def __init__(self, work: Path) -> None:
        self.port = free_port()
        self.work = work
        self.process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.work)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(50):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


# --- one run ----------------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    fault: str
    tally: Tally
    stored: int
    lost: int
    unacknowledged: int
    duplicates: int
    detail: str


def run(label: str, fault: str, args: argparse.Namespace, work: Path) -> Result:
    suffix = "_faults_" + fault.replace("-", "_") + ("_smoke" if args.smoke else "")
    database = fresh_database(label, "survey", work, suffix)
    instance = work / f"instance-{label}-{fault}"
    shutil.rmtree(instance, ignore_errors=True)
    instance.mkdir()
    path = prepare_survey(database, instance)
    redis = OwnRedis(work) if fault == "redis-down" else None
    env = {"DATABASE_URL": database.uri, "SECRET_KEY": SECRET,
           "SURVEY_INSTANCE_PATH": str(instance), "SUBMIT_RATE_LIMIT": "1000000 per minute",
           "SURVEY_MIN_FILL_SECONDS": "0", "SURVEY_BURST_LIMIT": "100000000",
           "SURVEY_PATTERN_LIMIT": "100000000"}
    if redis is not None:
        redis.start()
        env["RATELIMIT_STORAGE_URI"] = redis.uri
    else:
        env["ALLOW_PER_PROCESS_LIMITS"] = "1"  # the limits are lifted, not measured
    server = start_gunicorn("survey:create_app()", env, WORKERS,
                            work / f"gunicorn-{label}-{fault}.log", path)
    killed: list[int] = []
    outages: list[float] = []
    events: list[tuple[float, Callable[[], None]]] = []
    if fault == "kill-9":
        events = killer(server.process.pid, 2.0, args.duration, killed)
    elif fault == "db-restart":
        events = [(args.duration / 3, pg_restart(outages))]
    elif fault == "redis-down" and redis is not None:
        events = [(args.duration / 3, redis.kill), (2 * args.duration / 3, redis.start)]
    print(f"  {label}: {fault}, {args.rate:g} citizens/s for {args.duration:g} s ...",
          flush=True)
    try:
        tally = load(server.base, path, args.rate, args.duration, events)
    finally:
        server.stop()
        if redis is not None:
            redis.kill()
    keys, duplicates = stored_keys(database.uri)
    database.target.drop()
    detail = {"kill-9": f"{len(killed)} workers killed",
              "db-restart": f"restart took {outages[0]:.1f} s" if outages else "no restart",
              "redis-down": f"Redis down {args.duration / 3:.0f} s"}.get(fault, "")
    return Result(label, fault, tally, len(keys), len(tally.acknowledged - keys),
                  len(keys - tally.acknowledged), duplicates, detail)


def report(results: list[Result], args: argparse.Namespace) -> list[str]:
    print()
    print(f"# Fault runs: citizens at {args.rate:g}/s for {args.duration:g} s against gunicorn "
          f"({WORKERS} workers)")
    print(about(args.load_before))
    print()
    names = [f"{r.label} {r.fault}" for r in results]
    outcomes = sorted({k for r in results for k in r.tally.outcomes})
    rows = [["fault", *(r.detail for r in results)]]
    rows += [[f"citizens: {k}", *(str(r.tally.outcomes.get(k, 0)) for r in results)]
             for k in outcomes]
    rows += [
        ["acknowledged (303)", *(str(len(r.tally.acknowledged)) for r in results)],
        ["stored", *(str(r.stored) for r in results)],
        ["lost: acknowledged, not stored (must be 0)", *(str(r.lost) for r in results)],
        ["stored, answer lost (the citizen saw an error)",
         *(str(r.unacknowledged) for r in results)],
        ["stored twice (must be 0)", *(str(r.duplicates) for r in results)],
    ]
    print(table(["measure", *names], rows))
    failures = [f"{n}: {r.lost} acknowledged responses not stored" for n, r in
                zip(names, results, strict=True) if r.lost]
    failures += [f"{n}: {r.duplicates} responses stored twice" for n, r in
                 zip(names, results, strict=True) if r.duplicates]
    failures += [f"{n}: nothing acknowledged" for n, r in zip(names, results, strict=True)
                 if not r.tally.acknowledged]
    print()
    print("## checks")
    for f in failures:
        print("FAIL ", f)
    if not failures:
        print("ok    every acknowledged response stored, none twice")
    return failures


SMOKE = {"backends": "sqlite", "duration": 5.0, "rate": 5.0, "faults": "kill-9"}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--faults", default="kill-9,db-restart,redis-down",
                        help="kill-9, db-restart (PostgreSQL only), redis-down")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=20.0, help="citizens per second")
    args = parse_args(parser, argv, SMOKE, "SQLite, kill -9, 5 s")
    args.load_before = os.getloadavg()
    faults = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = set(faults) - {"kill-9", "db-restart", "redis-down"}
    if unknown:
        parser.error(f"unknown fault(s): {', '.join(sorted(unknown))}")
    if "redis-down" in faults and not shutil.which("redis-server"):
        parser.error("redis-down needs redis-server (apt-get install redis-server)")
    OUT.mkdir(parents=True, exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        for label in backend_labels(args.backends):
            for fault in faults:
                if fault == "db-restart" and label != "PostgreSQL":
                    continue
                results.append(run(label, fault, args, Path(tmp)))
    return 1 if report(results, args) else 0


if __name__ == "__main__":
    sys.exit(main())
