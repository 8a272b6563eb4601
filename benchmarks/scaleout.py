"""Scale-out: three identical app servers behind nginx, sharing one PostgreSQL database
and one Redis, while one of them is killed and restarted under load.

    python -m benchmarks.scaleout              # 400 citizens at 20/s: about 35 s
    python -m benchmarks.scaleout --smoke      # 150 citizens at 15/s: about 25 s
    python -m benchmarks.scaleout --database my_db --pg-url postgresql://... --redis redis://...

The topology of the README's "Several app servers behind nginx": `flask --app survey
init` on a fresh PostgreSQL database (`--database`, default bench_scaleout; dropped
afterwards), a small organisation (one agency, two desks, a service, an administrator, an
enrolled kiosk tablet), three gunicorn servers (`gunicorn.conf.py`, 2 workers each) on
loopback ports, each with its own instance folder holding a copy of the one signing key,
and the same SECRET_KEY, DATABASE_URL, RATELIMIT_STORAGE_URI (Redis, `--redis`) with a key
prefix of this run, and TRUSTED_PROXIES=1. In front of them nginx runs from the
repository's template `deploy/nginx.conf`, rendered into a temporary directory and run
unprivileged in the foreground (as "nobody" when started by root), with an `X-Upstream`
header added to see which app server answered.

Every client binds its own source address in 127.0.0.0/8 (all of it is loopback on Linux),
so nginx's $remote_addr, and the address the app limits on, differs per client. Checks:

1. Load: citizens arrive at `--rate` per second, each opening the form (GET) and sending it
   (POST) through nginx, usually to two different servers. A POST that gets no answer or a
   5xx is sent again once, a second later, with the same idempotency key. A third of the
   way in, one app server's master and workers are killed with SIGKILL; it is started
   again two seconds later. Every acknowledged (303) response must be stored exactly once;
   stored-but-unacknowledged responses are reported; responses, chain links of responses
   and receipts must be equal in number; the restarted server must answer again.
2. Rate limits: SUBMIT_RATE_LIMIT is `--limit` per hour. Twice that many submissions from
   one address, spread over the servers, admit exactly the limit; the same from an
   address that sends its own forged X-Forwarded-For (nginx replaces it); another address
   right after is admitted.
3. A citizen's receipt: shown on the thank-you page by another server than the one that
   stored the response, and found by every server's receipt check.
4. Staff: an administrator signs in through one server; the next pages are answered by
   every server. Closing a desk through one server: the forms opened before are refused
   by every server at once (410, the closed-desk message), nothing stored. Sealing a
   reporting period (yesterday, closed on the admin page): kiosk responses captured in it
   are refused by every server (period_closed), nothing stored. Signing out through one
   server ends the session on every server. Every server publishes the same public key.
5. `flask --app survey audit verify`: the hash chain is one chain across the servers.

The table of counts is printed; a failed check makes the exit status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import pwd
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import redis
import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import create_engine, func, select, text

from benchmarks.lib import (
    OUT,
    PG_ADMIN_URL,
    ROOT,
    Checks,
    about,
    parse_args,
    pg_drop,
    pg_recreate,
    pg_url,
    table,
)
from benchmarks.submit import FIELD, SERVICE, free_port, worker_pids

TEMPLATE = ROOT / "deploy" / "nginx.conf"
SECRET = "scaleout-secret-key-0123456789abcdef"
PASSWORD = "kata sandi skala 2026"
AGENCY = "KEC-SKALA"
ADMIN = "admin@skala.go.id"
SERVERS = 3
DESK_CLOSED_ID = "Loket pelayanan ini sudah ditutup"  # the Indonesian refusal's start
RECEIPT_FOUND_ID = "jawaban ini tercatat dalam rantai hash"  # /cek-kode: on the chain


# --- clients with their own source address ---------------------------------------------------


class SourceAddressAdapter(HTTPAdapter):
    """Connections from one loopback address (127.x.y.z): nginx sees it as $remote_addr."""

    def __init__(self, source: str, **kwargs: Any) -> None:
        self.source = source
        super().__init__(**kwargs)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                         **pool_kwargs: Any) -> None:
        pool_kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)


def browser(source: str) -> requests.Session:
    """A new browser at `source`; no proxy from the environment."""
    session = requests.Session()
    session.trust_env = False
    session.mount("http://", SourceAddressAdapter(source))
    return session


def address(block: int, n: int) -> str:
    """The n-th client address of a block: 127.<block>.<n // 250>.<n % 250 + 1>."""
    return f"127.{block}.{n // 250}.{n % 250 + 1}"


LOAD, CHECKS = 1, 2  # address blocks: the load's citizens, the checks' clients


# --- the servers ---------------------------------------------------------------------------


@dataclass
class AppServer:
    """One gunicorn master with its workers, on a fixed loopback port."""

    name: str
    port: int
    instance: Path
    env: dict[str, str]
    workers: int
    log: Path
    process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        gunicorn = Path(sys.executable).with_name("gunicorn")
        command = [str(gunicorn), "-c", str(ROOT / "gunicorn.conf.py"),
                   "--workers", str(self.workers), "--bind", f"127.0.0.1:{self.port}",
                   "--timeout", "60", "--graceful-timeout", "5", "--log-level", "warning",
                   "survey:create_app()"]
        with self.log.open("ab") as handle:
            self.process = subprocess.Popen(command, env=self.env, stdout=handle,
                                            stderr=subprocess.STDOUT, cwd=ROOT)
        wait_for(self.base + "/healthz", self.process, self.log, f"gunicorn {self.name}")

    def kill(self) -> int:
        """SIGKILL to the master and every worker at once; how many processes died."""
        assert self.process is not None
        victims = [self.process.pid, *worker_pids(self.process.pid)]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()
        self.process = None
        return len(victims)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            for pid in [self.process.pid, *worker_pids(self.process.pid)]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.process.wait()
        self.process = None


def wait_for(url: str, process: subprocess.Popen, log: Path, what: str,
             seconds: float = 60) -> None:
    """Until `url` answers 200; RuntimeError (with the log's end) if the process ends or
    the time runs out."""
    deadline = time.time() + seconds
    while True:
        try:
            with browser("127.0.0.1") as probe:
                if probe.get(url, timeout=5).status_code == 200:
                    return
        except requests.RequestException:
            pass
        if process.poll() is not None or time.time() > deadline:
            if process.poll() is None:
                process.kill()
                process.wait()
            raise RuntimeError(f"{what} did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def nginx_binary() -> str | None:
    """Debian's nginx: on PATH, or in /usr/sbin (not on a user's PATH)."""
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)),
        None)


def render(template: str, values: dict[str, str]) -> str:
    """The template with every @NAME@ outside comments replaced; ValueError for one left
    over (the comments, which name the placeholders, are kept as they are)."""
    lines = []
    for line in template.splitlines(keepends=True):
        if not line.lstrip().startswith("#"):
            for name, value in values.items():
                line = line.replace(f"@{name}@", value)
            left = re.findall(r"@[A-Z_]+@", line)
            if left:
                raise ValueError(f"{TEMPLATE} has placeholders with no value: {left}")
        lines.append(line)
    return "".join(lines)


@dataclass
class Nginx:
    """nginx from deploy/nginx.conf in a directory of its own, in the foreground."""

    port: int
    servers: list[AppServer]
    run_dir: Path
    process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.run_dir / "error.log"

    def start(self) -> None:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("nginx is not installed (apt-get install nginx)")
        upstreams = "\n        ".join(
            f"server 127.0.0.1:{s.port} max_fails=1 fail_timeout=2s;" for s in self.servers)
        conf = render(TEMPLATE.read_text(), {
            "RUN_DIR": str(self.run_dir), "LISTEN": f"127.0.0.1:{self.port}",
            "SERVER_NAME": "localhost", "APP_SERVERS": upstreams, "WORKERS": "1",
            "DEBUG_HEADERS": "add_header X-Upstream $upstream_addr always;"})
        path = self.run_dir / "nginx.conf"
        path.write_text(conf)
        self.log.touch()
        drop: dict[str, Any] = {}
        if os.geteuid() == 0:  # never run it as root: as "nobody", in a folder it owns
            nobody = pwd.getpwnam("nobody")
            for item in [self.run_dir, *self.run_dir.rglob("*")]:
                os.chown(item, nobody.pw_uid, nobody.pw_gid)
            drop = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
        command = [binary, "-p", str(self.run_dir), "-c", str(path), "-e", "stderr",
                   "-g", "daemon off;"]
        with (self.run_dir / "nginx.out").open("ab") as handle:
            self.process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT,
                                            **drop)
        try:
            wait_for(self.base + "/healthz", self.process, self.run_dir / "nginx.out", "nginx",
                     seconds=20)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{self.log.read_text()[-2000:]}") from None

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGQUIT)  # graceful: finish what is in flight
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def answered_by(response: requests.Response, names: dict[str, str]) -> str:
    """The app server that answered (the last one nginx tried), from X-Upstream."""
    upstream = response.headers.get("X-Upstream", "").split(",")[-1].strip()
    return names.get(upstream, upstream or "nginx")


# --- the database --------------------------------------------------------------------------


@dataclass
class Org:
    slug_l1: str
    slug_l2: str
    desk_l2: int
    service: int
    kiosk_cookie: str


def prepare(uri: str, instance: Path) -> Org:
    """`flask --app survey init` (migrations, questionnaires, the signing key), then the
    organisation through the core, as the `flask` commands create it."""
    env = {**os.environ, "DATABASE_URL": uri, "SECRET_KEY": SECRET,
           "SURVEY_INSTANCE_PATH": str(instance)}
    env.pop("FLASK_DEBUG", None)
    flask = Path(sys.executable).with_name("flask")
    done = subprocess.run([str(flask), "--app", "survey", "init"], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"flask init failed:\n{done.stdout}\n{done.stderr}")

    from survey import create_app
    from survey.core.db import db, write_transaction
    from survey.core.org import kiosks, users
    from survey.core.org.agencies import create_agency
    from survey.core.org.desks import create_desk
    from survey.core.org.services import create_service
    from survey.web.devices import cookie_value

    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": SECRET, "TESTING": True,
                      "INSTANCE_PATH": str(instance)})
    with app.app_context():
        with write_transaction(db.session):
            create_agency(db.session, AGENCY, "Kecamatan Skala", actor=None)
            l1 = create_desk(db.session, AGENCY, "L1", "Loket 1", actor=None)
            l2 = create_desk(db.session, AGENCY, "L2", "Loket 2", actor=None)
            service = create_service(db.session, AGENCY, "KTP", "KTP-el", "ID card",
                                     ["L1", "L2"], actor=None)
            users.create_user(db.session, ADMIN, PASSWORD, "admin", actor=None)
            device, device_secret = kiosks.enrol(db.session, l1, "Tablet skala", actor=None)
        org = Org(l1.slug, l2.slug, l2.id, service.id, cookie_value(device.id, device_secret))
        db.session.remove()
        db.engine.dispose()
    return org


def scalar(uri: str, sql: str, **params: Any) -> Any:
    engine = create_engine(uri)
    try:
        with engine.connect() as conn:
            return conn.scalar(text(sql), params)
    finally:
        engine.dispose()


def stored_keys(uri: str) -> list[str]:
    engine = create_engine(uri)
    try:
        with engine.connect() as conn:
            return [k for (k,) in conn.execute(text(
                "SELECT idempotency_key FROM response WHERE idempotency_key IS NOT NULL"))]
    finally:
        engine.dispose()


def chain_counts(uri: str) -> tuple[int, int, int]:
    """Responses, chain links of responses, receipts of those links."""
    engine = create_engine(uri)
    try:
        with engine.connect() as conn:
            responses = conn.scalar(select(func.count()).select_from(text("response")))
            links = conn.scalar(text("SELECT count(*) FROM chain_entry WHERE kind = 'response'"))
            receipts = conn.scalar(text(
                "SELECT count(*) FROM receipt JOIN chain_entry USING (seq) "
                "WHERE chain_entry.kind = 'response'"))
    finally:
        engine.dispose()
    return int(responses), int(links), int(receipts)


# --- citizens ------------------------------------------------------------------------------


def form_of(page: str) -> dict[str, str]:
    fields = dict(FIELD.findall(page))
    service = SERVICE.search(page)
    if service:
        fields["service"] = service.group(1)
    return fields


def answers(rng: random.Random) -> dict[str, str]:
    return {f"U{i}": str(rng.randint(1, 4)) for i in range(1, 10)}


@dataclass
class Load:
    """What the citizens of the load saw."""

    posted: set[str] = field(default_factory=set)  # every idempotency key sent
    acknowledged: set[str] = field(default_factory=set)
    outcomes: Counter = field(default_factory=Counter)
    answers_by: Counter = field(default_factory=Counter)  # POSTs answered, per server
    cross: int = 0  # forms opened on one server and acknowledged by another
    after_restart: Counter = field(default_factory=Counter)  # answers after the restart
    killed: int = 0  # processes killed
    kill_at: float = 0.0
    back_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def citizen(base: str, path: str, n: int, names: dict[str, str], load: Load,
            start: float) -> None:
    """One citizen at their own address: the form, the answers, one retry."""
    rng = random.Random(n)
    with browser(address(LOAD, n)) as session:
        try:
            page = session.get(base + path, timeout=30)
        except requests.RequestException:
            with load.lock:
                load.outcomes["form did not open"] += 1
            return
        if page.status_code != 200:
            with load.lock:
                load.outcomes[f"form answered {page.status_code}"] += 1
            return
        opened_on = answered_by(page, names)
        fields = {**form_of(page.text), **answers(rng)}
        key = fields.get("idempotency_key", "")
        with load.lock:
            load.posted.add(key)
        status: int | None = None
        first = ""  # what the first send got, when it is sent again
        for attempt in (1, 2):
            try:
                answer = session.post(base + path, data=fields, allow_redirects=False,
                                      timeout=30)
                status = answer.status_code
            except requests.RequestException:
                answer, status = None, None
            if answer is not None:
                server = answered_by(answer, names)
                with load.lock:
                    load.answers_by[server] += 1
                    if load.back_at is not None and time.perf_counter() - start > load.back_at:
                        load.after_restart[server] += 1
            if status == 303:
                with load.lock:
                    load.acknowledged.add(key)
                    load.outcomes["acknowledged" + (f" on retry (first: {first})"
                                                     if attempt == 2 else "")] += 1
                    load.cross += server != opened_on
                return
            if status is not None and status < 500:
                with load.lock:
                    load.outcomes[f"refused {status}"] += 1
                return
            if attempt == 1:
                first = str(status or "no answer")
                time.sleep(1.0)
        with load.lock:
            load.outcomes[f"failed twice ({status or 'no answer'})"] += 1


def run_load(base: str, path: str, citizens: int, rate: float, names: dict[str, str],
             victim: AppServer, down: float) -> Load:
    """`citizens` arriving at `rate` per second; a third of the way in, `victim` is killed
    (master and workers, SIGKILL) and started again `down` seconds later."""
    load = Load()
    start = time.perf_counter()
    duration = citizens / rate

    def fault() -> None:
        time.sleep(max(0.0, start + duration / 3 - time.perf_counter()))
        load.kill_at = time.perf_counter() - start
        load.killed = victim.kill()
        time.sleep(down)
        victim.start()
        load.back_at = time.perf_counter() - start

    director = threading.Thread(target=fault)
    director.start()
    threads = []
    for n in range(citizens):
        time.sleep(max(0.0, start + n / rate - time.perf_counter()))
        thread = threading.Thread(target=citizen, args=(base, path, n, names, load, start))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    director.join()
    return load


# --- the checks after the load -------------------------------------------------------------


@dataclass
class Limited:
    """Submissions from one address: POST answers and the servers that gave them."""

    codes: Counter = field(default_factory=Counter)
    servers: Counter = field(default_factory=Counter)
    keys: list[str] = field(default_factory=list)  # of the admitted ones


def from_one_address(base: str, path: str, source: str, count: int, names: dict[str, str],
                     forge: bool) -> Limited:
    """`count` citizens at one address, each a new browser: all open the form, then all
    send it (the sends, one after the other, go round the servers). With `forge` each
    sends an X-Forwarded-For of its own (a different address every time)."""
    out = Limited()
    rng = random.Random(source)
    forms = []
    for k in range(count):
        headers = {"X-Forwarded-For": f"198.51.100.{k % 250 + 1}"} if forge else {}
        session = browser(source)
        page = session.get(base + path, headers=headers, timeout=30)
        forms.append((session, {**form_of(page.text), **answers(rng)}, headers))
    for session, fields, headers in forms:
        with session:
            answer = session.post(base + path, data=fields, headers=headers, timeout=30,
                                  allow_redirects=False)
        out.codes[answer.status_code] += 1
        out.servers[answered_by(answer, names)] += 1
        if answer.status_code == 303:
            out.keys.append(fields["idempotency_key"])
    return out


def csrf(page: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    if not match:
        raise RuntimeError("no CSRF token on the page")
    return match.group(1)


def servers_line(counter: Counter, servers: Sequence[AppServer]) -> str:
    return " / ".join(str(counter.get(s.name, 0)) for s in servers)


@dataclass
class Run:
    args: argparse.Namespace
    uri: str
    org: Org
    nginx: Nginx
    servers: list[AppServer]
    names: dict[str, str]
    checks: Checks = field(default_factory=Checks)
    rows: list[list[str]] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.nginx.base

    def row(self, label: str, value: object) -> None:
        self.rows.append([label, str(value)])

    @property
    def server_names(self) -> str:
        return " / ".join(s.name for s in self.servers)

    def covered(self, counter: Counter) -> bool:
        return all(counter.get(s.name, 0) > 0 for s in self.servers)

    def attempt(self, name: str, check: Callable[..., None], *args: Any) -> None:
        """Run one check; an exception fails it (with its reason) and the others still
        run."""
        try:
            check(self, *args)
        except Exception as exc:  # a failed check, reported
            self.checks.add(name, False, f"{type(exc).__name__}: {exc}"[:500])


def check_load(run: Run, load: Load) -> None:
    keys = stored_keys(run.uri)
    stored = Counter(k for k in keys if k in load.posted)
    lost = load.acknowledged - set(stored)
    unacknowledged = set(stored) - load.acknowledged
    twice = sum(1 for n in stored.values() if n > 1)
    victim = run.servers[1]
    run.row("citizens (each at an address of their own)", run.args.citizens)
    for outcome, n in sorted(load.outcomes.items()):
        run.row(f"  {outcome}", n)
    run.row("acknowledged (303)", len(load.acknowledged))
    run.row("stored", len(stored))
    run.row("lost: acknowledged, not stored (must be 0)", len(lost))
    run.row("stored, answer lost (the citizen saw an error)", len(unacknowledged))
    run.row("stored twice (must be 0)", twice)
    run.row(f"POST answers by {run.server_names}",
            servers_line(load.answers_by, run.servers))
    run.row("forms opened on one server, acknowledged by another", load.cross)
    run.row(f"{victim.name} killed with SIGKILL",
            f"{load.killed} processes at {load.kill_at:.1f} s")
    run.row(f"{victim.name} started again",
            "no" if load.back_at is None else f"at {load.back_at:.1f} s")
    run.row(f"{victim.name}'s answers to the load after its restart",
            load.after_restart.get(victim.name, 0))
    run.checks.add("every acknowledged response stored", not lost,
                   f"{len(load.acknowledged)} acknowledged, {len(lost)} of them not stored")
    run.checks.add("no response stored twice", twice == 0, f"{twice} keys stored twice")
    run.checks.add("most citizens acknowledged",
                   len(load.acknowledged) >= 0.9 * run.args.citizens,
                   f"{len(load.acknowledged)} of {run.args.citizens}")
    run.checks.add("every server answered the load", run.covered(load.answers_by),
                   servers_line(load.answers_by, run.servers))
    # That it answers again is shown by every check below, each answered by every server.
    run.checks.add(f"{victim.name} killed (master and workers) mid-load and started again",
                   load.killed >= 2 and load.back_at is not None,
                   f"{load.killed} processes killed at {load.kill_at:.1f} s; "
                   f"{load.after_restart.get(victim.name, 0)} load answers after the restart")


def rejoin(run: Run, victim: AppServer, seconds: float = 30) -> None:
    """Until nginx sends requests to the restarted server again (it leaves a server that
    refused connections out for fail_timeout, then tries it): the checks that follow
    need every server in the round."""
    began = time.perf_counter()
    with browser(address(CHECKS, 5)) as probe:
        while time.perf_counter() - began < seconds:
            answer = probe.get(run.base + "/healthz", timeout=10)
            if answer.status_code == 200 and answered_by(answer, run.names) == victim.name:
                run.row(f"{victim.name} in nginx's round again after the load",
                        f"{time.perf_counter() - began:.1f} s")
                return
            time.sleep(0.1)
    run.checks.add(f"{victim.name} back in nginx's round", False,
                   f"not answering through nginx {seconds:g} s after the load")


def check_chain_counts(run: Run) -> None:
    responses, links, receipts = chain_counts(run.uri)
    run.row("responses / their chain links / receipts",
            f"{responses} / {links} / {receipts}")
    run.checks.add("one chain link and one receipt per response",
                   responses == links == receipts,
                   f"{responses} responses, {links} links, {receipts} receipts")


def check_limits(run: Run) -> None:
    limit, path = run.args.limit, f"/s/{run.org.slug_l1}"
    keys_before = set(stored_keys(run.uri))
    for label, source, forge in (("one address", address(CHECKS, 1), False),
                                 ("one address, forged X-Forwarded-For", address(CHECKS, 2),
                                  True)):
        result = from_one_address(run.base, path, source, 2 * limit, run.names, forge)
        stored = len(set(result.keys) & (set(stored_keys(run.uri)) - keys_before))
        sent = "the same with a forged X-Forwarded-For" if forge else (
            f"limit {limit}/h, {2 * limit} from one address")
        run.row(f"{sent}: 303 / 429 / stored",
                f"{result.codes.get(303, 0)} / {result.codes.get(429, 0)} / {stored}")
        run.row(f"  answered by {run.server_names}", servers_line(result.servers, run.servers))
        run.checks.add(f"{label}: exactly the limit admitted across servers",
                       result.codes.get(303, 0) == limit and result.codes.get(429, 0) == limit
                       and stored == limit and run.covered(result.servers),
                       f"codes {dict(result.codes)}, {stored} stored, servers "
                       f"{dict(result.servers)}")
    other = from_one_address(run.base, path, address(CHECKS, 3), 1, run.names, False)
    run.row("another address right after: 303", other.codes.get(303, 0))
    run.checks.add("another address is admitted", other.codes.get(303, 0) == 1,
                   f"codes {dict(other.codes)}")


def check_receipt(run: Run) -> None:
    """The thank-you page shows the receipt whichever server answers it (the receipt
    travels in the signed session cookie), and every server's receipt check finds it."""
    path = f"/s/{run.org.slug_l1}"
    found: Counter = Counter()
    other: Counter = Counter()
    with browser(address(CHECKS, 70)) as session:
        page = session.get(run.base + path, timeout=30)
        sent = session.post(run.base + path, data={**form_of(page.text),
                                                   **answers(random.Random(70))},
                            allow_redirects=False, timeout=30)
        thanks = session.get(run.base + "/selesai", timeout=30)
        match = re.search(r'id="receipt">([^<]+)<', thanks.text)
        code = match.group(1) if match else ""
        for _ in range(SERVERS):
            form = session.get(run.base + "/cek-kode", timeout=30)
            answer = session.post(run.base + "/cek-kode", data={
                "csrf_token": csrf(form.text), "code": code}, timeout=30)
            ok = answer.status_code == 200 and RECEIPT_FOUND_ID in html.unescape(answer.text)
            (found if ok else other)[answered_by(answer, run.names)] += 1
    run.row(f"receipt: sent to {answered_by(sent, run.names)}, shown by "
            f"{answered_by(thanks, run.names)}; found by {run.server_names}",
            servers_line(found, run.servers))
    run.checks.add("the receipt is shown and found by every server",
                   sent.status_code == 303 and bool(code) and run.covered(found) and not other,
                   f"sent: {sent.status_code}, receipt {code or 'not shown'}; found by "
                   f"{dict(found)}, not by {dict(other)}")


def sign_in(run: Run, session: requests.Session) -> str:
    page = session.get(run.base + "/auth/login", timeout=30)
    answer = session.post(run.base + "/auth/login", data={
        "csrf_token": csrf(page.text), "email": ADMIN, "password": PASSWORD},
        allow_redirects=False, timeout=30)
    if answer.status_code != 302:
        raise RuntimeError(f"signing in answered {answer.status_code}")
    return answered_by(answer, run.names)


def pages_by_server(run: Run, session: requests.Session, url: str, expect: int,
                    tries: int = 12) -> tuple[Counter, Counter]:
    """GET `url` until every server has answered once (at most `tries` times): the
    answers that were `expect`, and the others, per server."""
    good: Counter = Counter()
    bad: Counter = Counter()
    for _ in range(tries):
        answer = session.get(run.base + url, allow_redirects=False, timeout=30)
        (good if answer.status_code == expect else bad)[answered_by(answer, run.names)] += 1
        if run.covered(good + bad):
            break
    return good, bad


def check_staff(run: Run, admin: requests.Session) -> None:
    signed_in_on = sign_in(run, admin)
    good, bad = pages_by_server(run, admin, "/admin/", 200)
    run.row(f"staff signed in on {signed_in_on}; /admin/ by {run.server_names}",
            servers_line(good, run.servers))
    run.checks.add("a staff session works on every server",
                   run.covered(good) and not bad,
                   f"signed in on {signed_in_on}; 200 by {dict(good)}, other by {dict(bad)}")


def check_desk_closed(run: Run, admin: requests.Session) -> None:
    """Forms opened before the desk closes are refused by every server right after."""
    path = f"/s/{run.org.slug_l2}"
    control = from_one_address(run.base, path, address(CHECKS, 20), 1, run.names, False)
    before = scalar(run.uri, "SELECT count(*) FROM response WHERE desk_id = :d",
                    d=run.org.desk_l2)
    forms = []
    for k in range(2 * SERVERS):
        session = browser(address(CHECKS, 21 + k))
        page = session.get(run.base + path, timeout=30)
        forms.append((session, {**form_of(page.text), **answers(random.Random(k))}))
    edit = f"/admin/instansi/{AGENCY}/loket/{run.org.desk_l2}"
    page = admin.get(run.base + edit, timeout=30)
    closed = admin.post(run.base + edit + "/status", data={"csrf_token": csrf(page.text),
                        "active": "0"}, allow_redirects=False, timeout=30)
    closed_at = time.perf_counter()
    refused: Counter = Counter()
    other: Counter = Counter()
    for session, fields in forms:
        with session:
            answer = session.post(run.base + path, data=fields, allow_redirects=False,
                                  timeout=30)
        server = answered_by(answer, run.names)
        ok = answer.status_code == 410 and DESK_CLOSED_ID in html.unescape(answer.text)
        (refused if ok else other)[server] += 1
    last = time.perf_counter() - closed_at
    after = scalar(run.uri, "SELECT count(*) FROM response WHERE desk_id = :d",
                   d=run.org.desk_l2)
    run.row(f"desk closed on {answered_by(closed, run.names)}; 410 by {run.server_names}",
            servers_line(refused, run.servers))
    run.row("  responses at the desk before / after the close", f"{before} / {after}")
    run.row("  the last refusal, after the close was answered", f"{last * 1e3:.0f} ms")
    run.checks.add("a closed desk is refused by every server at once",
                   closed.status_code in (302, 303) and control.codes.get(303, 0) == 1
                   and run.covered(refused) and not other and after == before,
                   f"close answered {closed.status_code}; control {dict(control.codes)}; "
                   f"refused by {dict(refused)}, other answers {dict(other)}; "
                   f"stored {before} -> {after}")


def kiosk_batch(run: Run, captured: datetime) -> tuple[requests.Response, str]:
    """One kiosk response captured at `captured`, sent through nginx as the tablet does."""
    key = secrets.token_urlsafe(18)
    item = {"key": key, "captured_at": captured.isoformat(), "service": run.org.service,
            "answers": {f"U{i}": 3 for i in range(1, 10)}}
    body = {"lang": "id", "sent_at": datetime.now(ZoneInfo("UTC")).isoformat(),
            "waiting": 0, "refused": 0, "responses": [item]}
    with browser(address(CHECKS, 40)) as session:
        answer = session.post(run.base + f"/k/{run.org.slug_l1}/sync", data=json.dumps(body),
                              headers={"Content-Type": "application/json",
                                       "Origin": run.base,
                                       "Cookie": f"skm_kiosk={run.org.kiosk_cookie}"},
                              timeout=30)
    return answer, key


def check_period_sealed(run: Run, admin: requests.Session) -> None:
    """A period closed on one server refuses, on every server, what is dated inside it."""
    zone = ZoneInfo("Asia/Jakarta")
    yesterday = (datetime.now(zone) - timedelta(days=1)).date()
    key = f"{yesterday.isoformat()}..{yesterday.isoformat()}"
    captured = datetime(yesterday.year, yesterday.month, yesterday.day, 12, tzinfo=zone)
    page = admin.get(run.base + "/admin/periode", timeout=30)
    created = admin.post(run.base + "/admin/periode", data={"csrf_token": csrf(page.text),
                         "key": key}, allow_redirects=False, timeout=30)
    period_id = scalar(run.uri, "SELECT id FROM reporting_period WHERE key = :k", k=key)
    control, _ = kiosk_batch(run, captured)
    control_status = (control.json()["results"][0]["status"]
                      if control.status_code == 200 else control.status_code)
    page = admin.get(run.base + "/admin/periode", timeout=30)
    closed = admin.post(run.base + f"/admin/periode/{period_id}/tutup",
                        data={"csrf_token": csrf(page.text)}, allow_redirects=False,
                        timeout=30)
    sealed = scalar(run.uri, "SELECT closed_at IS NOT NULL FROM reporting_period "
                    "WHERE id = :i", i=period_id)
    before = scalar(run.uri, "SELECT count(*) FROM response")
    refused: Counter = Counter()
    other: Counter = Counter()
    expected = f"Periode {key} sudah ditutup"
    for _ in range(2 * SERVERS):
        answer, _key = kiosk_batch(run, captured)
        server = answered_by(answer, run.names)
        result = answer.json()["results"][0] if answer.status_code == 200 else {}
        ok = (result.get("status") == "refused" and result.get("code") == "period_closed"
              and expected in (result.get("reason") or ""))
        (refused if ok else other)[server] += 1
    after = scalar(run.uri, "SELECT count(*) FROM response")
    run.row(f"period sealed on {answered_by(closed, run.names)}; kiosk refused by "
            f"{run.server_names}", servers_line(refused, run.servers))
    run.row("  the period (yesterday)", key)
    run.row("  responses before / after the seal", f"{before} / {after}")
    run.checks.add("a sealed period is refused by every server at once",
                   created.status_code == 303 and control_status == "stored" and bool(sealed)
                   and run.covered(refused) and not other and after == before,
                   f"period added: {created.status_code}, control: {control_status}, "
                   f"sealed: {sealed}; refused by {dict(refused)}, other {dict(other)}; "
                   f"stored {before} -> {after}")


def check_sign_out(run: Run, admin: requests.Session) -> None:
    """Signing out through one server ends the session's every copy on every server."""
    copy = browser(address(CHECKS, 50))
    copy.cookies.update(admin.cookies)
    page = admin.get(run.base + "/admin/", timeout=30)
    out = admin.post(run.base + "/auth/logout", data={"csrf_token": csrf(page.text)},
                     allow_redirects=False, timeout=30)
    refused, kept = pages_by_server(run, copy, "/admin/", 302)
    copy.close()
    run.row(f"signed out on {answered_by(out, run.names)}; copy refused by "
            f"{run.server_names}", servers_line(refused, run.servers))
    run.checks.add("signing out ends the session on every server",
                   out.status_code == 303 and run.covered(refused) and not kept,
                   f"sign-out answered {out.status_code}; refused by {dict(refused)}, "
                   f"still open on {dict(kept)}")


def check_public_key(run: Run) -> None:
    with browser(address(CHECKS, 60)) as session:
        keys: dict[str, set[bytes]] = {}
        for _ in range(2 * SERVERS):
            answer = session.get(run.base + "/audit/public-key", timeout=30)
            keys.setdefault(answered_by(answer, run.names), set()).add(
                answer.content if answer.status_code == 200 else b"")
    distinct = set().union(*keys.values())
    run.row("distinct signing keys served", len(distinct))
    run.checks.add("every server publishes the same signing key",
                   len(distinct) == 1 and b"" not in distinct
                   and all(s.name in keys for s in run.servers),
                   f"{len(distinct)} distinct keys from {sorted(keys)}")


def check_audit(run: Run) -> None:
    env = {**os.environ, "DATABASE_URL": run.uri, "SECRET_KEY": SECRET,
           "SURVEY_INSTANCE_PATH": str(run.servers[0].instance)}
    env.pop("FLASK_DEBUG", None)
    flask = Path(sys.executable).with_name("flask")
    done = subprocess.run([str(flask), "--app", "survey", "audit", "verify"], env=env,
                          cwd=ROOT, capture_output=True, text=True, check=False)
    said = (done.stdout or done.stderr).strip().splitlines()
    run.row("flask audit verify", said[-1].split(", head")[0] if said
            else f"exit {done.returncode}")
    run.checks.add("flask audit verify: one intact chain", done.returncode == 0,
                   " ".join(said)[-300:])


# --- orchestration -------------------------------------------------------------------------


def redis_cleanup(url: str, prefix: str) -> None:
    """Remove this run's counters (and only them) from the shared Redis."""
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"*{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    except redis.RedisError as exc:
        print(f"  could not remove this run's Redis keys: {exc}")
    finally:
        client.close()


def scale_out(args: argparse.Namespace, work: Path) -> Run:
    pg_recreate(args.database, args.pg_url)
    uri = pg_url(args.database, args.pg_url)
    prefix = f"scaleout-{secrets.token_hex(4)}"
    nginx_dir = Path(tempfile.mkdtemp(prefix="skm-nginx-"))  # /tmp: "nobody" can reach it
    servers: list[AppServer] = []
    nginx = Nginx(free_port(), servers, nginx_dir)
    try:
        instances = [work / f"instance-app{k + 1}" for k in range(SERVERS)]
        print(f"  flask init and the organisation on {args.database} ...", flush=True)
        org = prepare(uri, instances[0])
        for instance in instances[1:]:  # the deployment copies the one signing key
            shutil.copytree(instances[0], instance)
        for k, instance in enumerate(instances):
            env = {**os.environ, "DATABASE_URL": uri, "SECRET_KEY": SECRET,
                   "SURVEY_INSTANCE_PATH": str(instance), "PUBLIC_BASE_URL": nginx.base,
                   "RATELIMIT_STORAGE_URI": args.redis, "RATELIMIT_KEY_PREFIX": prefix,
                   "TRUSTED_PROXIES": "1", "ALLOW_PER_PROCESS_LIMITS": "0",
                   "SUBMIT_RATE_LIMIT": f"{args.limit} per hour",
                   # posted at once, many at one desk: not flagged, so counted as clean
                   "SURVEY_MIN_FILL_SECONDS": "0", "SURVEY_BURST_LIMIT": "100000000",
                   "SURVEY_PATTERN_LIMIT": "100000000"}
            env.update(args.app_setting)
            env.pop("FLASK_DEBUG", None)
            servers.append(AppServer(f"app{k + 1}", free_port(), instance, env, args.workers,
                                     work / f"gunicorn-app{k + 1}.log"))
        print(f"  {SERVERS} app servers, {args.workers} workers each, and nginx ...",
              flush=True)
        errors: list[BaseException] = []

        def start(server: AppServer) -> None:
            try:
                server.start()
            except BaseException as exc:  # reported below
                errors.append(exc)

        starters = [threading.Thread(target=start, args=(s,)) for s in servers]
        for thread in starters:
            thread.start()
        for thread in starters:
            thread.join()
        if errors:
            raise errors[0]
        nginx.start()
        names = {f"127.0.0.1:{s.port}": s.name for s in servers}
        run = Run(args, uri, org, nginx, servers, names)
        print(f"  {args.citizens} citizens at {args.rate:g}/s through nginx, "
              f"{servers[1].name} killed a third of the way in ...", flush=True)
        load = run_load(nginx.base, f"/s/{org.slug_l1}", args.citizens, args.rate, names,
                        servers[1], args.down)
        check_load(run, load)
        rejoin(run, servers[1])
        print("  rate limits, staff, desk, period, chain ...", flush=True)
        run.attempt("rate limits", check_limits)
        run.attempt("receipt", check_receipt)
        with browser(address(CHECKS, 10)) as admin:
            run.attempt("staff session", check_staff, admin)
            run.attempt("desk closed", check_desk_closed, admin)
            run.attempt("period sealed", check_period_sealed, admin)
            run.attempt("sign-out", check_sign_out, admin)
        run.attempt("signing key", check_public_key)
        run.attempt("chain counts", check_chain_counts)
        run.attempt("audit verify", check_audit)
        return run
    finally:
        nginx.stop()
        for server in servers:
            server.stop()
        shutil.rmtree(nginx_dir, ignore_errors=True)
        redis_cleanup(args.redis, prefix)
        if not args.keep:
            pg_drop(args.database, args.pg_url)


def report(run: Run) -> None:
    args = run.args
    print()
    print(f"# Scale-out: {SERVERS} app servers ({args.workers} gunicorn workers each) behind "
          f"nginx, one PostgreSQL, one Redis; {args.citizens} citizens at {args.rate:g}/s")
    print(about(args.load_before))
    print()
    print(table(["measure", "value"], run.rows))
    print()
    run.checks.print()


SMOKE = {"citizens": 150, "rate": 15.0}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citizens", type=int, default=400)
    parser.add_argument("--rate", type=float, default=20.0, help="citizens per second")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server")
    parser.add_argument("--limit", type=int, default=6,
                        help="SUBMIT_RATE_LIMIT per address and hour during the run")
    parser.add_argument("--down", type=float, default=2.0,
                        help="seconds between the kill and the restart")
    parser.add_argument("--database", default="bench_scaleout",
                        help="PostgreSQL database to create, use and drop")
    parser.add_argument("--pg-url", default=PG_ADMIN_URL,
                        help="a URL of the PostgreSQL server (its database is ignored)")
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL",
                                                          "redis://127.0.0.1:6379"),
                        help="the shared Redis (this run's keys have their own prefix)")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--app-setting", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment setting of every app server, after the run's "
                             "own (to see a misconfiguration fail the checks, e.g. "
                             "TRUSTED_PROXIES=0 or RATELIMIT_STORAGE_URI=memory:// with "
                             "ALLOW_PER_PROCESS_LIMITS=1)")
    args = parse_args(parser, argv, SMOKE, "150 citizens at 15/s")
    args.load_before = os.getloadavg()
    try:
        args.app_setting = dict(item.split("=", 1) for item in args.app_setting)
    except ValueError:
        parser.error("--app-setting takes NAME=VALUE")
    if args.citizens < 30:
        parser.error("--citizens: at least 30 (the kill comes a third of the way in)")
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        run = scale_out(args, Path(tmp))
    report(run)
    return 0 if run.checks.ok else 1


if __name__ == "__main__":
    sys.exit(main())
