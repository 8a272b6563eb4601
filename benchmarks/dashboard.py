"""The agency dashboard page at scale. Run: ``python -m benchmarks.dashboard``
(``--smoke``: the same steps at a tiny size on SQLite, in seconds, for the checks only).

Issue 5: "Dashboard page for an agency with 50 desks and 1,000,000 responses over two years:
server time per page (goal: under 300 ms)".

One agency (AG01) with 50 desks of its own, two services and monthly service volumes for
every desk (so the agency is stratified), 1,000,000 responses from 2024-01-01 to 2025-12-31
with ids in time order: weekdays in office hours, the first and third Saturday of each month
in the morning, no Sundays or public holidays, volume growing by a quarter over the two
years; lognormal desk sizes, desk-specific answer distributions, profile fields, ~5%
comments, ~3% flagged (QR and kiosk only), 10% one-time-ticket (verified), 5% paper with
10% of answers left blank. The database is built with benchmarks/lib.py's building
blocks (schema, ``survey.core.org``, bulk load, ``rebuild_rollups``); then, through
the application's own functions, a handful of review decisions (flags released and kept,
comments published and hidden), follow-up plan rows, and the four semesters closed, so
that none of the page's sections is empty.

The benchmark then drives the real pages in-process through ``app.test_client()``, signed
in through the login form as the agency's ``agency_manager``: warm (one warm-up, then
``--repeat`` timed requests per URL; time from request to complete body) for the dashboard
with a month, a quarter, a semester, a year, the two years and a range that cuts months,
a desk page, the public page, the badge and the API results (bearer token); and the first
request for the year page in a fresh process (cold). Checks: every page answers 200; the
dashboard's clean n equals the clean responses of the period counted in SQL (and in the
generated data); the API's n for 2025 likewise; the public page shows 2025-S2 and its n;
SQLite and PostgreSQL show the same numbers. Exit status 1 when a check fails.

``--mpp`` (issue 14): the same two years of responses over a Mal Pelayanan Publik instead:
agency ``MPP`` groups 50 agencies of 10 desks each (500 desks), the pages are the MPP's
(its dashboard also lists the 50 agencies with their own index), signed in as the MPP's
manager; goal 200 ms. Its database is bench_dashboard_mpp.

Databases are cached in benchmarks/out/ (SQLite) and PostgreSQL database bench_dashboard;
``--rebuild`` rebuilds them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, or_, select

from benchmarks.lib import (
    OUT,
    ROOT,
    Checks,
    Data,
    Target,
    about,
    agency_code,
    analyze,
    backend_labels,
    build_main,
    cached,
    desk_code,
    details,
    make_app,
    median,
    ms,
    parse_args,
    percentile,
    table,
    table_rows,
)
from survey.core import review
from survey.core.db import db, write_transaction
from survey.core.models import (
    Agency,
    Desk,
    FollowUp,
    ReportingPeriod,
    Response,
    ReviewDecision,
    User,
)
from survey.core.org.periods import create_period
from survey.core.org.users import create_api_token, create_user
from survey.core.periods import parse_period
from survey.core.results import cache as figures_cache
from survey.core.results.published import close_period

FIRST = date(2024, 1, 1)
LAST = date(2025, 12, 31)
N_DAYS = (LAST - FIRST).days + 1  # 731
MONTHS = tuple(parse_period("2024-01..2025-12").months())
CODE = agency_code(0)  # AG01; "MPP" with --mpp (set in main)
MPP = "MPP"
PASSWORD = "benchmark password 2025"
MANAGER = "manager@bench.example"
ADMIN = "admin@bench.example"
HOLIDAYS = {date(2024, 1, 1), date(2024, 2, 8), date(2024, 3, 11), date(2024, 3, 29),
            date(2024, 4, 10), date(2024, 4, 11), date(2024, 5, 1), date(2024, 5, 9),
            date(2024, 5, 23), date(2024, 6, 17), date(2024, 8, 17), date(2024, 12, 25),
            date(2025, 1, 1), date(2025, 1, 27), date(2025, 1, 29), date(2025, 3, 31),
            date(2025, 4, 1), date(2025, 4, 18), date(2025, 5, 1), date(2025, 5, 12),
            date(2025, 5, 29), date(2025, 6, 6), date(2025, 6, 27), date(2025, 8, 17),
            date(2025, 12, 25)}
CLOSED = ("2024-S1", "2024-S2", "2025-S1", "2025-S2")  # the public page shows 2025-S2
BUILD_VERSION = 1  # bump when the extras (decisions, follow-ups, periods) change

# (label, period key): the dashboard pages, each against the goal
PAGES = (("month", "2025-11"), ("quarter", "2025-Q4"), ("semester", "2025-S2"),
         ("year", "2025"), ("two years", "2024-01-01..2025-12-31"),
         ("range cutting months", "2025-01-15..2025-06-14"))
GOAL = 0.3  # 0.2 with --mpp (set in main)


# --- Synthetic responses over two years ----------------------------------------------------


def synthetic(rows: int, desks: int, seed: int, agencies: int = 1) -> Data:
    """``agencies`` agencies of ``desks`` desks each, ``rows`` responses over 2024-2025 (see
    the module docstring); all desks have monthly service volumes (1.5 to 12 times the
    responses)."""
    rng = np.random.default_rng(seed)
    per_agency, desks = desks, desks * agencies
    days = [FIRST + timedelta(days=d) for d in range(N_DAYS)]
    weekday = np.array([d.weekday() for d in days])
    saturday_open = np.array([d.weekday() == 5 and (d.day - 1) // 7 in (0, 2) for d in days])
    weight = np.where(weekday < 5, 1.0, np.where(saturday_open, 0.35, 0.0))
    weight[[d in HOLIDAYS for d in days]] = 0.0
    weight *= 1 + 0.25 * np.arange(N_DAYS) / N_DAYS  # growing use
    weight *= rng.uniform(0.8, 1.2, N_DAYS)  # day-to-day noise

    sizes = rng.lognormal(0, 0.7, desks)
    sizes = np.maximum(np.round(sizes / sizes.sum() * rows).astype(np.int64),
                       min(500, rows // (5 * desks)))
    sizes[np.argmax(sizes)] += rows - sizes.sum()
    desk = np.repeat(np.arange(desks), sizes)
    probs = rng.dirichlet([1, 2, 8, 6], size=desks)
    y = np.ones((rows, 9), dtype=np.int8)
    cum = probs.cumsum(axis=1)[desk]
    u = rng.random((rows, 9))
    y += (u[:, :, None] > cum[:, None, :3]).sum(axis=2, dtype=np.int8)
    del cum, u

    day = rng.choice(N_DAYS, size=rows, p=weight / weight.sum())
    weekday_hours = rng.choice(np.arange(8, 16), size=rows,
                               p=[0.10, 0.16, 0.17, 0.15, 0.09, 0.12, 0.12, 0.09])
    saturday_hours = rng.choice(np.arange(8, 12), size=rows, p=[0.25, 0.30, 0.28, 0.17])
    hour = np.where(weekday[day] == 5, saturday_hours, weekday_hours)

    channel, service, flagged, profile, comment = details(rng, y, flag_rate=0.036)

    order = np.lexsort((hour, day))  # chronological, as a live system assigns ids
    month_of_day = np.array([(d.year - FIRST.year) * 12 + d.month - 1 for d in days])
    per_month = np.bincount(desk * len(MONTHS) + month_of_day[day],
                            minlength=desks * len(MONTHS)).reshape(desks, len(MONTHS))
    pops = np.round(per_month * rng.uniform(1.5, 12, per_month.shape)).astype(np.int64)
    return Data(agencies, per_agency, desk[order], day[order], hour[order], channel[order],
                service[order], flagged[order], {k: v[order] for k, v in profile.items()},
                comment[order], y[order], pops, np.ones(agencies, bool), first_day=FIRST,
                n_days=N_DAYS, months=MONTHS)


# --- Building the database -------------------------------------------------------------


def _in_period(data: Data, key: str) -> np.ndarray:
    p = parse_period(key)
    return ((data.day >= (p.start - FIRST).days) & (data.day <= (p.end - FIRST).days))


def decisions_plan(data: Data, seed: int) -> list[tuple[int, str, str]]:
    """(response id, kind, decision): flags released and kept, comments published and
    hidden, mostly in the second half of 2025 (so the pages of 2025 show them); one
    response released and then kept again."""
    rng = np.random.default_rng(seed + 7)
    plan: list[tuple[int, str, str]] = []
    recent = _in_period(data, "2025-S2")
    for key, count in (("2025-S2", 40), ("2024", 10)):
        where = _in_period(data, key) if key != "2025-S2" else recent
        flagged = np.flatnonzero(where & data.flagged) + 1
        for i, rid in enumerate(rng.choice(flagged, size=min(count, flagged.size),
                                           replace=False).tolist()):
            plan.append((rid, "flag", "release" if i % 3 else "keep"))
        commented = np.flatnonzero(where & (data.comment > 0)) + 1
        for i, rid in enumerate(rng.choice(commented, size=min(count, commented.size),
                                           replace=False).tolist()):
            plan.append((rid, "comment", "hide" if i % 4 == 3 else "publish"))
    first_release = next(rid for rid, kind, d in plan if kind == "flag" and d == "release")
    plan.append((first_release, "flag", "keep"))  # changed its mind
    return plan


FOLLOW_UPS = (("2025-S2", "U3", "Tambah petugas loket pada jam sibuk", "done"),
              ("2025-S2", "U5", "Papan informasi biaya layanan", "in_progress"),
              ("2025-S2", "U9", "Kotak saran dan tindak lanjut pengaduan", "planned"),
              ("2025", "U2", "Sederhanakan persyaratan berkas", "in_progress"),
              ("2025", "U4", "Standar waktu layanan dipasang di loket", "planned"),
              ("2025-Q4", "U6", "Pelatihan keramahan petugas", "done"),
              ("2025-11", "U7", "Perbaikan ruang tunggu", "planned"))


def build(data: Data, seed: int) -> dict[str, Any]:
    """lib.py's build (schema, organisation, bulk load, rebuild_rollups), then users,
    review decisions, follow-up plan rows and closed periods through the application."""
    from survey.core.results import followups

    meta = build_main(data, parent=MPP if data.agencies > 1 else None)

    t0 = time.perf_counter()
    session = db.session
    manager = create_user(session, MANAGER, PASSWORD, "agency_manager", [CODE], actor=None)
    create_user(session, ADMIN, PASSWORD, "admin", actor=None)
    session.commit()
    statuses = set(followups.STATUSES)
    agency = session.scalar(select(Agency).where(Agency.code == CODE))
    for key, element, action, status in FOLLOW_UPS:
        with write_transaction(session):
            followups.save(session, agency, parse_period(key), {
                "element_code": element, "action": action, "owner": "Kepala Seksi Layanan",
                "status": status if status in statuses else followups.STATUSES[0],
                "due_date": "2026-03-31"}, manager)
    plan = decisions_plan(data, seed)
    for rid, kind, decision in plan:
        action = review.review_flag if kind == "flag" else review.moderate_comment
        with write_transaction(session):
            action(session, rid, decision, "Diperiksa petugas (benchmark)", manager)
    for key in CLOSED:
        with write_transaction(session):
            row = create_period(session, key, actor=None)
            close_period(session, row, datetime(2026, 1, 10, tzinfo=UTC), date(2026, 1, 10),
                         actor=None)
    t_extras = time.perf_counter() - t0
    analyze()
    return {**meta, "extras_s": t_extras, "decisions": len(plan),
            "follow_ups": len(FOLLOW_UPS)}


# --- Expected numbers, counted without the rollups --------------------------------------


def released_ids(session) -> set[int]:
    """Responses whose latest flag decision is release."""
    latest = (select(ReviewDecision.response_id, func.max(ReviewDecision.id).label("id"))
              .where(ReviewDecision.kind == "flag").group_by(ReviewDecision.response_id)
              .subquery())
    return set(session.scalars(select(ReviewDecision.response_id)
                               .join(latest, latest.c.id == ReviewDecision.id)
                               .where(ReviewDecision.decision == "release")))


def sql_clean_count(session, key: str, desk_ids: list[int] | None = None) -> int:
    """Clean responses of the period, counted from the response table: not flagged at
    submission, or released by their latest review decision, with at least one answer."""
    from survey.core.models import Answer

    p = parse_period(key)
    latest = (select(ReviewDecision.decision)
              .where(ReviewDecision.response_id == Response.id, ReviewDecision.kind == "flag")
              .order_by(ReviewDecision.id.desc()).limit(1).scalar_subquery())
    query = (select(func.count()).select_from(Response)
             .where(Response.day.between(p.start, p.end),
                    or_(Response.flags == "", func.coalesce(latest, "keep") == "release"),
                    select(Answer.response_id).where(Answer.response_id == Response.id)
                    .exists()))
    if desk_ids is not None:
        query = query.where(Response.desk_id.in_(desk_ids))
    return int(session.scalar(query))


def data_clean_count(data: Data, key: str, released: set[int],
                     desk: int | None = None) -> int:
    """The same from the generated data."""
    clean = ~data.flagged
    if released:
        clean = clean.copy()
        clean[np.array(sorted(released)) - 1] = True
    mask = _in_period(data, key) & clean & (data.y > 0).any(axis=1)
    if desk is not None:
        mask &= data.desk == desk
    return int(mask.sum())


# --- Driving the pages ------------------------------------------------------------------


def login(client, email: str) -> None:
    """Sign in through the real login form, CSRF token included (as tests/survey_helpers)."""
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token, "no CSRF token on the login page"
    reply = client.post("/auth/login", data={"csrf_token": token.group(1), "email": email,
                                             "password": PASSWORD})
    assert reply.status_code in (302, 303), f"login failed: {reply.status_code}"


def _digits(text: str) -> int:
    return int(re.sub(r"\D", "", text))


def counts_table(html: str) -> list[list[str]]:
    """The dashboard's "Responses" table (id="counts"): its rows of cells, tags removed."""
    part = html.split('id="counts"', 1)[1].split("</table>", 1)[0]
    rows = []
    for row in re.findall(r"<tr><th scope=\"row\">(.*?)</tr>", part, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        rows.append([re.sub(r"<[^>]+>", "", c).strip() for c in cells])
    return rows


def headline(kind: str, html: str) -> Any:
    """What the benchmark compares between the backends and with SQL."""
    if kind == "dashboard":
        comments = re.search(r'/antrean/comment[^"]*">([^<]*)</a>', html)
        return [*counts_table(html), [comments.group(1) if comments else "?"]]
    if kind == "desk":
        return re.findall(r'class="card respondents"><h3>[^<]*</h3><p class="value small">'
                          r'([^<]+)<', html) + re.findall(r"<td[^>]*>([^<]*)</td>", html)
    if kind == "public":
        return re.findall(r'<p class="big"><strong>([^<]*)</strong>', html) + re.findall(
            r"<td>([^<]*)</td>", html)[:18]
    if kind == "badge":
        return re.findall(r"IKM [^<]*", html)
    return json.loads(html)["results"]


@dataclass
class Url:
    label: str
    url: str
    kind: str  # dashboard | desk | public | badge | api
    goal: bool = False
    key: str | None = None  # the period key of a dashboard page


@dataclass
class BackendRun:
    backend: str
    meta: dict[str, Any]
    times: dict[str, list[float]] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    heads: dict[str, Any] = field(default_factory=dict)
    cold: dict[str, float] = field(default_factory=dict)
    fresh: dict[str, list[float]] = field(default_factory=dict)  # figures cache off
    expected: dict[str, int] = field(default_factory=dict)


def urls(desk_id: int) -> list[Url]:
    out = [Url(f"dashboard, {label} ({key})", f"/dashboard/{CODE}?period={key}", "dashboard",
               True, key) for label, key in PAGES]
    out += [Url(f"desk page {desk_code(0)}, year (2025)",
                f"/dashboard/{CODE}/loket/{desk_id}?period=2025", "desk"),
            Url("public page (latest closed: 2025-S2)", f"/publik/{CODE}", "public"),
            Url("SVG badge", f"/publik/{CODE}/badge.svg", "badge"),
            Url("API results, year (2025)", f"/api/v1/agencies/{CODE}/results?period=2025",
                "api")]
    return out


def get(client, url: Url, headers: dict[str, str]) -> tuple[float, int, str]:
    t0 = time.perf_counter()
    reply = client.get(url.url, headers=headers if url.kind == "api" else None)
    body = reply.get_data()
    elapsed = time.perf_counter() - t0
    return elapsed, reply.status_code, body.decode()


def api_token(app) -> str:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == MANAGER))
        token = create_api_token(db.session, user, "benchmark", actor=None)
        db.session.commit()
    return token


def cold_probe(uri: str, instance: str, code: str) -> None:
    """In a fresh process: create the app, sign in, time the first year page."""
    global CODE
    CODE = code
    t0 = time.perf_counter()
    app = make_app(uri, Path(instance))
    t_app = time.perf_counter() - t0
    client = app.test_client()
    login(client, MANAGER)
    url = Url("year", f"/dashboard/{CODE}?period=2025", "dashboard")
    first, status, _ = get(client, url, {})
    second, _, _ = get(client, url, {})
    print(json.dumps({"app_s": t_app, "first_s": first, "second_s": second,
                      "status": status}))


def cached_build(target: Target, data: Data, args: argparse.Namespace, app) -> dict[str, Any]:
    """The database (built now, or as cached) and its build metadata."""
    params = {"rows": data.n, "desks": data.desks, "seed": args.seed,
              "version": BUILD_VERSION}
    if data.agencies > 1:
        params["agencies"] = data.agencies
    return cached(target, params, args.rebuild, lambda: build(data, args.seed), app)


def run_backend(target: Target, data: Data, args: argparse.Namespace, checks: Checks,
                instance: Path) -> BackendRun:
    app = make_app(target.uri, instance)
    meta = cached_build(target, data, args, app)
    run = BackendRun(target.backend, meta)
    label = target.backend
    with app.app_context():
        run.meta.update(table_rows())
        session = db.session
        codes = [agency_code(a) for a in range(data.agencies)]
        desks = {(a.code, d.code): d.id for d, a in session.execute(
            select(Desk, Agency).join(Agency, Desk.agency_id == Agency.id)
            .where(Agency.code.in_(codes)))}
        desk_ids = [desks[(agency_code(d // data.desks), desk_code(d % data.desks))]
                    for d in range(data.agencies * data.desks)]
        released = released_ids(session)
        run.meta["released"] = len(released)
        run.meta["follow_up_rows"] = int(session.scalar(select(func.count()).select_from(
            FollowUp)))
        run.meta["closed"] = int(session.scalar(select(func.count()).select_from(
            ReportingPeriod).where(ReportingPeriod.closed_at.is_not(None))))
        if args.checks:
            for key in dict.fromkeys([k for _, k in PAGES] + ["2025-S2", "2025"]):
                t0 = time.perf_counter()
                run.expected[key] = sql_clean_count(session, key, desk_ids)
                in_data = data_clean_count(data, key, released)
                checks.add(f"{label}: clean responses of {key}, SQL == generated data",
                           run.expected[key] == in_data,
                           f"{run.expected[key]:,} vs {in_data:,} "
                           f"({time.perf_counter() - t0:.1f} s)")
            run.expected["desk"] = sql_clean_count(session, "2025", [desk_ids[0]])
            for _, key in PAGES:  # the review queues' own count (survey.core.review.pending_count)
                p = parse_period(key)
                run.expected[f"pending {key}"] = tuple(
                    review.pending_count(session, kind, desk_ids, p.start, p.end)
                    for kind in ("flag", "comment"))
        session.close()
        db.engine.dispose()

    # cold: the first request after the application starts, in a fresh process
    probe = subprocess.run([sys.executable, "-m", "benchmarks.dashboard", "--cold-probe",
                            target.uri, str(instance), CODE], capture_output=True, text=True,
                           check=False, cwd=ROOT)
    try:
        run.cold = json.loads(probe.stdout.strip().splitlines()[-1])
        checks.add(f"{label}: cold year page answers 200", run.cold["status"] == 200,
                   str(run.cold["status"]))
    except (IndexError, ValueError):
        checks.add(f"{label}: cold probe ran", False, probe.stderr[-500:])

    token = api_token(app)
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    login(client, MANAGER)
    for url in urls(desk_ids[0]):
        times = []
        body = ""
        for i in range(1 + args.repeat):
            elapsed, status, body = get(client, url, headers)
            if status != 200:
                checks.add(f"{label}: {url.url} answers 200", False, str(status))
                break
            if i:
                times.append(elapsed)
        run.times[url.label] = times
        if url.kind == "dashboard" and args.fresh:
            # The same page with no kept figures: what the first view after a change
            # (or any view of a period still open) costs.
            size = figures_cache.FIGURES.size
            figures_cache.FIGURES.resize(0)
            try:
                run.fresh[url.label] = [get(client, url, headers)[0]
                                        for _ in range(args.fresh)]
            finally:
                figures_cache.FIGURES.resize(size)
        run.sizes[url.label] = len(body.encode())
        run.heads[url.label] = headline(url.kind, body)
        if not args.checks:
            continue
        if url.kind == "dashboard":
            n = _digits(run.heads[url.label][0][0])
            checks.add(f"{label}: dashboard {url.key}: page n (clean) == SQL count",
                       n == run.expected[url.key], f"{n:,} vs {run.expected[url.key]:,}")
            table_rows_ = run.heads[url.label]
            pending = (_digits(table_rows_[3][1]), _digits(table_rows_[4][0]))
            want = run.expected[f"pending {url.key}"]
            checks.add(f"{label}: dashboard {url.key}: pending flags and comments == "
                       "review.pending_count", pending == want, f"{pending} vs {want}")
        elif url.kind == "api":
            n = run.heads[url.label][0]["n"]
            checks.add(f"{label}: API 2025: n == SQL count", n == run.expected["2025"],
                       f"{n} vs {run.expected['2025']:,}")
        elif url.kind == "public":
            match = re.search(r'class="card respondents"><h3>[^<]*</h3>'
                              r'<p class="value small">([^<]+)<', body)
            n = _digits(match.group(1)) if match else None
            checks.add(f"{label}: public page 2025-S2: n == SQL count",
                       n == run.expected["2025-S2"], f"{n} vs {run.expected['2025-S2']:,}")
        elif url.kind == "desk":
            expected = f"{run.expected['desk']:,}"
            n = _digits(run.heads[url.label][0])
            checks.add(f"{label}: desk page 2025: desk n == SQL count",
                       n == run.expected["desk"], f"{n:,} vs {expected}")
    return run


def profile_build(target: Target, instance: Path, key: str, out: Path) -> None:
    """cProfile of survey.core.results.dashboard.build for one period (warm)."""
    import cProfile
    import pstats

    from survey.core.results import dashboard as services

    app = make_app(target.uri, instance)
    with app.app_context():
        agency = db.session.scalar(select(Agency).where(Agency.code == CODE))
        period = parse_period(key)
        services.build(db.session, agency, period)
        db.session.close()
        agency = db.session.scalar(select(Agency).where(Agency.code == CODE))
        profiler = cProfile.Profile()
        profiler.enable()
        services.build(db.session, agency, period)
        profiler.disable()
    profiler.dump_stats(out)
    pstats.Stats(str(out)).sort_stats("cumulative").print_stats(45)


# --- Report ------------------------------------------------------------------------------


def report(runs: list[BackendRun], data: Data, args: argparse.Namespace,
           checks: Checks) -> None:
    names = [r.backend for r in runs]
    print()
    whole = (f"{data.desks} desks" if data.agencies == 1 else
             f"{data.agencies} agencies of {data.desks} desks")
    print(f"# Agency dashboard: {CODE}, {whole}, {data.n:,} responses "
          f"{FIRST} .. {LAST}; in-process test client, signed in as agency_manager")
    print(about(args.load_before, "%Y-%m-%d %H:%M %Z"))
    print()
    print(f"## server time per page, warm: median (p90 / max) of {args.repeat} requests "
          "after one warm-up")
    rows = []
    for label in runs[0].times if runs else ():
        cells = []
        for r in runs:
            t = r.times.get(label) or []
            cells.append(f"{ms(median(t))} ({ms(percentile(t, 90))} / {ms(max(t))})"
                         if t else "-")
        goal = next((u.goal for u in urls(0) if u.label == label), False)
        size = runs[0].sizes[label]
        rows.append([label, *cells, f"< {GOAL * 1000:.0f} ms" if goal else "",
                     f"{size / 1024:,.0f} KiB" if size >= 1024 else f"{size} B"])
    for label in (runs[0].fresh if runs else ()):
        cells = []
        for r in runs:
            t = r.fresh.get(label) or []
            cells.append(f"{ms(median(t))} ({ms(percentile(t, 90))} / {ms(max(t))})"
                         if t else "-")
        rows.append([f"{label}, computed afresh", *cells, "", ""])
    rows.append(["first year page in a fresh process (cold)",
                 *(ms(r.cold["first_s"]) if r.cold else "-" for r in runs), "", ""])
    rows.append(["  its app start (import + create_app), not in the request",
                 *(ms(r.cold["app_s"]) if r.cold else "-" for r in runs), "", ""])
    print(table(["page", *names, "goal", "body"], rows))
    print()
    print("## databases (one-off builds, cached in benchmarks/out and PostgreSQL)")
    rows = []
    for r in runs:
        m = r.meta
        rows.append([r.backend, f"{m['size'] / 2**20:,.0f} MiB", f"{m.get('response', 0):,}",
                     f"{m.get('stats_rollup', 0):,}", f"{m.get('count_rollup', 0):,}",
                     f"{m['load_s']:.0f} s", f"{m['rebuild_s']:.0f} s",
                     f"{m['extras_s']:.0f} s", "cached" if m["cached"] else "built now"])
    print(table(["database", "size", "responses", "stats rollups", "count rollups",
                 "bulk load", "rollups.rebuild", "decisions etc.", "state"], rows))
    print()
    checks.print()


# Tiny sizes for --smoke: every step once, on SQLite, in a few seconds; the checks only.
SMOKE = {"rows": 4000, "desks": 3, "repeat": 1, "fresh": 1, "backends": "sqlite",
         "name": "bench_dashboard_smoke"}


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if len(argv) == 4 and argv[0] == "--cold-probe":
        cold_probe(argv[1], argv[2], argv[3])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--desks", type=int, default=None,
                        help="desks per agency (default 50; 10 with --mpp)")
    parser.add_argument("--mpp", action="store_true",
                        help="a Mal Pelayanan Publik of 50 agencies of 10 desks (issue 14)")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--repeat", type=int, default=9, help="timed requests per URL")
    parser.add_argument("--fresh", type=int, default=5,
                        help="timed requests per dashboard page with the figures cache off "
                             "(0: none)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached databases")
    parser.add_argument("--name", default="bench_dashboard",
                        help="database name (PostgreSQL) and file stem (SQLite)")
    parser.add_argument("--no-checks", dest="checks", action="store_false",
                        help="skip the SQL counts (about a minute on 1,000,000 rows)")
    parser.add_argument("--build-only", action="store_true",
                        help="build (or find cached) databases and stop")
    parser.add_argument("--profile", metavar="PERIOD",
                        help="print a cProfile of dashboard.services.build for PERIOD on the "
                             "first backend, then stop")
    args = parse_args(parser, argv, SMOKE, "4,000 rows on SQLite in a temporary directory "
                      "(bench_dashboard_smoke on PostgreSQL, dropped after)")
    args.load_before = os.getloadavg()
    if not args.name.startswith("bench_dashboard"):
        parser.error("--name must start with bench_dashboard")
    global CODE, GOAL
    agencies = 1
    if args.mpp:
        CODE, GOAL, agencies = MPP, 0.2, 50 if not args.smoke else 3
        args.desks = args.desks or 10
        if args.name == "bench_dashboard":
            args.name = "bench_dashboard_mpp"
    args.desks = args.desks or 50

    OUT.mkdir(parents=True, exist_ok=True)
    labels = backend_labels(args.backends)
    checks = Checks()
    runs: list[BackendRun] = []
    print(f"generating {args.rows:,} responses ...", flush=True)
    data = synthetic(args.rows, args.desks, args.seed, agencies)
    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp)
        # --smoke: never the cached databases of the real runs
        directory = instance if args.smoke else OUT
        if args.profile:
            target = Target(labels[0], args.name, directory)
            profile_build(target, instance, args.profile, OUT / "dashboard.prof")
            return 0
        for label in labels:
            print(f"{label}:", flush=True)
            target = Target(label, args.name, directory)
            try:
                if args.build_only:
                    print(json.dumps(cached_build(target, data, args,
                                                  make_app(target.uri, instance))))
                    continue
                run = run_backend(target, data, args, checks, instance)
                run.meta["size"] = target.size()
            finally:
                if args.smoke:
                    target.drop()
            runs.append(run)
        for other in runs[1:]:
            for label in runs[0].heads:
                checks.add(f"{runs[0].backend} == {other.backend}: {label}",
                           runs[0].heads[label] == other.heads.get(label),
                           "same numbers" if runs[0].heads[label] == other.heads.get(label)
                           else f"{runs[0].heads[label]!r:.200} vs "
                                f"{other.heads.get(label)!r:.200}")
    if runs:
        report(runs, data, args, checks)
    return 0 if checks.ok else 1


if __name__ == "__main__":
    sys.exit(main())
