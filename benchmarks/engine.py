"""IKM results from the database, at scale. Run: ``python -m benchmarks.engine``
(``--smoke``: the same steps at a tiny size on SQLite, in seconds, for the checks only).

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
no hash-chain entries), then ``rebuild_rollups`` computes the rollups exactly as the app
keeps them, and the benchmark checks rollups == raw rows. Databases are cached in
benchmarks/out/ (SQLite files) and in PostgreSQL databases bench_engine*; ``--rebuild``
rebuilds them. Exit status 1 when a correctness check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from benchmarks.lib import (
    CHANNELS,
    COMMENTS,
    DAYS,
    FIRST_DAY,
    MONTHS,
    OUT,
    PROFILE,
    SEMESTER,
    TOLERANCE,
    UTC_OFFSET,
    Checks,
    Data,
    Org,
    Target,
    about,
    agency_code,
    analyze,
    backend_labels,
    build_main,
    bulk_load,
    cached,
    choices,
    create_org,
    create_schema,
    desk_code,
    load_org,
    make_app,
    median,
    ms,
    parse_args,
    percentile,
    rel_diff,
    synthetic,
    table,
    table_rows,
    unpadded,
)
from survey.core import rollups
from survey.core.db import db, write_transaction
from survey.core.models import (
    AGE_BANDS,
    EDUCATIONS,
    OCCUPATIONS,
    Agency,
    StatsRollup,
)
from survey.core.org.agencies import create_agency
from survey.core.org.desks import create_desk
from survey.core.org.services import create_service
from survey.core.periods import parse_period
from survey.core.responses import NewResponse, record_responses
from survey.core.results import queries, raw
from survey.ikm.engine import Estimate, GroupResult
from survey.ikm.stats import reduce_rows

PARTIAL = parse_period("2024-01-15..2024-06-14")  # 4 whole months + 2 partial ones


# --- Building the national database ------------------------------------------------------------


def build_national(data: Data, sample: np.ndarray) -> dict[str, Any]:
    """One agency with many desks: rollup rows computed from the in-memory responses with
    the app's own reduction and layout (reduce_rows, to_flat, rollups.encode), clean scope
    only, daily and monthly grain; raw responses loaded only for the sample desks."""
    create_schema()
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
                raw.raw_desk_statistics(session, sample_ids, period.start, period.end,
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


def dashboard_timings(codes: Sequence[str], desks: int, period: Any, repeat: int,
                      checks: Checks, label: str) -> dict[str, list[float]]:
    """Time what the agency dashboard page assembles (survey.core.results.dashboard.build: the
    index, verified/all variants, desks, services, a 6-period trend, arrivals, profile,
    review queue, children) for one agency and for a parent over all the agencies. The
    parent is added to the cached database on first use (it changes no other result)."""
    try:
        from survey.core.results import dashboard as dashboard
    except ImportError:
        return {}
    session = db.session
    parent = session.scalar(select(Agency).where(Agency.code == PARENT))
    if parent is None:
        parent = create_agency(session, PARENT, "Mal Pelayanan Publik (benchmark)",
                                   actor=None)
    for agency in session.scalars(select(Agency).where(Agency.code.in_(list(codes)))):
        if agency.parent_id != parent.id:
            agency.parent_id = parent.id
    session.commit()
    out = {}
    for name, code in ((f"{codes[0]}: {desks} desks", codes[0]),
                       (f"{PARENT}: {len(codes)} agencies, {len(codes) * desks} desks", PARENT)):
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
            worst = max(worst, *(rel_diff(x, z) for x, z in zip(_numbers(ea), _numbers(eb),
                                                            strict=True)))
    return worst


def _numbers(e: Estimate) -> list[float]:
    out = [e.n, e.ikm, e.se, *e.ci, *(e.ci_t or ())]
    for el in e.elements:
        out += [el.n, el.nrr, el.se, *el.ci]
    return out


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
    app = make_app(target.uri, instance)
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
        run.dashboard = dashboard_timings(codes, data.desks, period, args.dashboard_repeat,
                                          checks, label)
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
    app = make_app(target.uri, instance)
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
        worst[key] = max(worst.get(key, 0.0), rel_diff(ours, theirs))

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
    return elapsed, {"index point": rel_diff(est.ikm, ref.point_est),
                     "index SE": rel_diff(est.se, ref.stderror)}


# --- ikm compute on a CSV -------------------------------------------------------------------


def write_export_csv(path: Path, data: Data) -> None:
    """Every response as the system's export would list it: response_id, submitted_at,
    agency, desk, service, channel, U1..U9, verified, flagged, profile, comment (quoted
    when it holds a comma, quote or line break); built as bytes with numpy."""
    n = data.n
    zero = np.zeros(n, dtype=np.int64)

    def lit(value: bytes) -> np.ndarray:
        return choices([value], zero)

    ids = np.arange(1, n + 1)
    digits = []
    for p in range(len(str(n)) - 1, -1, -1):
        index = (ids // 10**p) % 10
        if p:
            index = np.where(ids < 10**p, 10, index)  # no leading zeros
        digits.append(choices([str(k).encode() for k in range(10)] + [b""], index))
    moments = [(datetime.combine(FIRST_DAY + timedelta(days=d), datetime.min.time())
                + timedelta(hours=h) - UTC_OFFSET).strftime("%Y-%m-%dT%H:00:00Z").encode()
               for d in range(DAYS) for h in range(24)]

    def quoted(value: str) -> bytes:
        if any(ch in value for ch in ',"\n'):
            return b'"' + value.replace('"', '""').encode() + b'"'
        return value.encode()

    parts = [*digits, lit(b","), choices(moments, data.day * 24 + data.hour), lit(b","),
             choices([agency_code(a).encode() for a in range(data.agencies)],
                      data.desk // data.desks), lit(b","),
             choices([desk_code(d).encode() for d in range(data.desks)],
                      data.desk % data.desks), lit(b","),
             choices([b"", b"S1", b"S2"], data.service), lit(b","),
             choices([c.encode() for c in CHANNELS], data.channel)]
    for j in range(9):
        parts += [lit(b","), choices([b"", b"1", b"2", b"3", b"4"], data.y[:, j])]
    parts += [lit(b","), choices([b"0", b"1"], (data.channel == 2).astype(np.int64)),
              lit(b","), choices([b"0", b"1"], data.flagged.astype(np.int64))]
    for name, values in PROFILE.items():
        parts += [lit(b","), choices([b"", *(v.encode() for v in values)], data.profile[name])]
    parts += [lit(b","), choices([b"", *(quoted(c) for c in COMMENTS)], data.comment),
              lit(b"\n")]
    header = ("response_id,submitted_at,agency,desk,service,channel,"
              + ",".join(f"U{j}" for j in range(1, 10))
              + ",verified,flagged,sex,age,education,occupation,comment\n").encode()
    path.write_bytes(header + unpadded(parts))


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
        worst = max(worst, *(rel_diff(a, b) for a, b in zip(ours, theirs, strict=True)))
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


def submit_cost(target: Target, n: int, block: int, instance: Path, warmup: int = 100
                ) -> dict[str, list[float]]:
    """Latency of record_responses in one write transaction per response, sequentially, with
    the rollups kept and with (parts of) them replaced by a no-op, in rotating blocks, on a
    fresh small database: 5 agencies x 4 desks, 20 s between responses (rollup rows are
    mostly updates, as in steady state), 10% one-time tickets, every response with a
    service and a profile."""
    target.reset()
    app = make_app(target.uri, instance)
    modes = rollup_modes()
    out: dict[str, list[float]] = {mode: [] for mode in modes}
    with app.app_context():
        create_schema()
        desk_ids, service_ids = [], {}
        for a in range(5):
            code = agency_code(a)
            create_agency(db.session, code, f"Instansi {code}", actor=None)
            desks = [create_desk(db.session, code, desk_code(d), f"Loket {d + 1}",
                                     actor=None) for d in range(4)]
            service = create_service(db.session, code, "S1", "Layanan 1",
                                         desk_codes=[d.code for d in desks], actor=None)
            for d in desks:
                desk_ids.append(d.id)
                service_ids[d.id] = service.id
        db.session.commit()
        rng = np.random.default_rng(7)
        start = datetime(2024, 7, 1, 1, tzinfo=UTC)
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
    target.drop()
    return out


# --- Report --------------------------------------------------------------------------------


def report(runs: list[BackendRun], data: Data, national: Data | None, args: argparse.Namespace,
           extra: dict[str, Any], checks: Checks) -> None:
    names = [r.backend for r in runs]
    print()
    print(f"# IKM from the database: {data.n:,} responses in {SEMESTER.key} "
          f"({SEMESTER.start} .. {SEMESTER.end}), {data.agencies} agencies x {data.desks} "
          f"desks")
    print(about(args.load_before))
    print()
    n_res = runs[0].n_results if runs else 0
    rows = []
    rows.append([f"(a) compute_groups, {n_res} results, from rollups",
                 *(ms(median(r.a)) for r in runs), "< 200 ms"])
    rows.append(["    best run", *(ms(min(r.a)) for r in runs), ""])
    for part in runs[0].split if runs else ():
        rows.append([f"    of which {part}", *(ms(median(r.split[part])) for r in runs), ""])
    rows.append([f"    incl. building the {data.agencies} agencies' scopes",
                 *(ms(median(r.a_scopes)) for r in runs), ""])
    rows.append([f"    range {PARTIAL.key} (daily rows for 2 months)",
                 *(ms(median(r.a_partial)) for r in runs), ""])
    rows.append([f"    one agency ({data.desks + 1} results)",
                 *(ms(median(r.a_one)) for r in runs), ""])
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
    checks.print()


# Tiny sizes for --smoke: every step once, on SQLite, in a few seconds; the checks only.
SMOKE = {"rows": 3000, "agencies": 3, "desks": 2, "national_rows": 2000, "national_desks": 20,
         "repeat": 1, "dashboard_repeat": 1, "cli_repeat": 1, "submit_n": 4,
         "submit_warmup": 4, "sample_desks": 3, "backends": "sqlite"}


def main(argv: Sequence[str] | None = None) -> int:
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
    parser.add_argument("--submit-warmup", type=int, default=100,
                        help="(e) transactions before the timed ones")
    parser.add_argument("--sample-desks", type=int, default=10)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached databases")
    parser.add_argument("--skip-national", action="store_true")
    parser.add_argument("--skip-samplics", action="store_true")
    parser.add_argument("--skip-checks", action="store_true")
    args = parse_args(parser, argv, SMOKE, "3,000 rows on SQLite in a temporary directory "
                      "(bench_engine*_smoke on PostgreSQL, dropped after)")
    args.load_before = os.getloadavg()

    OUT.mkdir(parents=True, exist_ok=True)
    labels = backend_labels(args.backends)
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

        def target(label: str, name: str) -> Target:
            if args.smoke:  # never the cached databases of the real runs
                return Target(label, f"{name}_smoke", instance)
            return Target(label, name)

        for label in labels:
            print(f"{label}:", flush=True)
            main_db = target(label, "bench_engine")
            national_db = target(label, "bench_engine_national")
            try:
                run = run_main(main_db, data, args, checks, instance)
                if national is not None:
                    run_national(national_db, national, args, checks, instance, run)
            finally:
                if args.smoke:
                    main_db.drop()
                    national_db.drop()
            runs.append(run)
        for other in runs[1:]:
            diff = results_equal(runs[0].results, other.results)
            checks.add(f"{runs[0].backend} results == {other.backend} results", diff == 0.0,
                       f"max relative difference {diff:.1e}")
        if runs and not args.skip_samplics:
            n_res = runs[0].n_results
            print(f"samplics: {n_res} estimates ...", flush=True)
            t_all, t_index, worst = samplics_550(data, runs[0].results)
            extra.update(samplics_all=t_all, samplics_index=t_index, samplics_worst=worst)
            checks.add(f"samplics == ours, {n_res} results (index and elements, point and SE)",
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
                run.submit = submit_cost(target(run.backend, "bench_engine_tx"),
                                         args.submit_n, min(50, args.submit_n), instance,
                                         args.submit_warmup)
    report(runs, data, national, args, extra, checks)
    return 0 if checks.ok else 1


if __name__ == "__main__":
    sys.exit(main())
