"""National scale, partitioned and not. Run: ``python -m benchmarks.national``
(``--agencies 250 --desks 12 --per-desk-month 694``: 250 x 12 x 24 x 694 = 50M responses).

As the "national" case of benchmarks/engine.py, the responses of the whole country exist
as rollups only: one monthly statistics row (clean scope) per desk and month, with the
app's own layout (reduce_rows, rollups.encode; a few dozen distinct samples reused), and
monthly count rows (arrival, sex, channel). Raw responses, answers and hash-chain links
exist for one agency's year (2025) only: what the export and the one-period verification
read. Its rollups are rebuilt from those rows by the app (`raw.rebuild_rollups`).

The plain database is built once (PostgreSQL `bench_national_plain`); the partitioned one
is a copy (CREATE DATABASE ... TEMPLATE) converted by `partitions.apply` (timed). Then, on
each: dashboard pages (national parent NAS with every agency as a child, and one agency;
month and year; warm median of 5 after one warm-up), CSV and XLSX export of the sample
agency's year, and `audit verify --period 2025-11` (ledger.verify_period).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert, text

from benchmarks.dashboard import login
from benchmarks.lib import (
    OUT,
    PG_ADMIN_URL,
    Checks,
    Org,
    _pg_admin,
    _questionnaire,
    bulk_insert,
    make_app,
    median,
    ms,
    pg_drop,
    pg_exists,
    pg_recreate,
    pg_url,
    table,
)
from benchmarks.lib import (
    parse_args as parse_options,
)
from survey.core import ledger, partitions, rollups
from survey.core.chain import link_hash
from survey.core.db import db
from survey.core.exports import service
from survey.core.models import Agency, Desk, StatsRollup, new_slug
from survey.core.org.agencies import get_agency
from survey.core.org.users import create_user
from survey.core.periods import parse_period
from survey.core.results import raw
from survey.core.seed import seed_standards
from survey.ikm.stats import reduce_rows

PLAIN, PART = "bench_national_plain", "bench_national_part"
PASSWORD = "benchmark password 2025"
ADMIN = "admin@national.go.id"
MONTHS = [date(2024 + m // 12, m % 12 + 1, 1) for m in range(24)]
SAMPLE = "A0000"
TEMPLATES = 48


def _code(a: int) -> str:
    return f"A{a:04d}"


def build(args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    db.create_all()
    seed_standards(db.session)
    db.session.commit()
    qid, element_ids = _questionnaire(db.session)
    conn = db.session
    conn.execute(insert(Agency.__table__), [{"code": "NAS", "name": "Nasional"}])
    parent = conn.scalar(text("SELECT id FROM agency WHERE code = 'NAS'"))
    conn.execute(insert(Agency.__table__), [
        {"code": _code(a), "name": f"Instansi {a}", "parent_id": parent}
        for a in range(args.agencies)])
    agency_ids = dict(conn.execute(text("SELECT code, id FROM agency")).tuples().all())
    conn.execute(insert(Desk.__table__), [
        {"agency_id": agency_ids[_code(a)], "questionnaire_id": qid, "code": f"L{d:02d}",
         "name": f"Loket {d}", "slug": new_slug()}
        for a in range(args.agencies) for d in range(args.desks)])
    create_user(db.session, ADMIN, PASSWORD, "admin", actor=None)
    db.session.commit()
    desk_ids = [i for (i,) in conn.execute(text("SELECT id FROM desk ORDER BY id"))]
    sample_desks = desk_ids[:args.desks]

    # Statistics rollups: monthly, clean scope, from a few dozen real samples.
    rng = np.random.default_rng(5)
    per = args.per_desk_month
    flats = []
    for _k in range(TEMPLATES):
        y = np.clip(np.rint(2.6 + 0.8 * rng.random() + rng.normal(0, 0.6, (per, 9))), 1, 4)
        flats.append(rollups.encode(np.asarray(
            reduce_rows(np.zeros(per, dtype=np.int64), y.astype(np.int64))[0].to_flat())))
    rows = []
    for i, desk_id in enumerate(desk_ids):
        for m, month in enumerate(MONTHS):
            rows.append({"desk_id": desk_id, "scope": "clean", "grain": "M",
                         "period_start": month, "questionnaire_id": qid, "service_id": 0,
                         "n": per, "stats": flats[(i * 31 + m) % TEMPLATES]})
        if len(rows) >= 20_000:
            conn.execute(insert(StatsRollup.__table__), rows)
            rows = []
    if rows:
        conn.execute(insert(StatsRollup.__table__), rows)
    db.session.commit()
    # Count rollups, monthly: arrival (weekday x 8 opening hours), sex, channel.
    conn.execute(text(
        "INSERT INTO count_rollup (desk_id, dimension, grain, period_start, value, n, "
        "answers, score_sum) SELECT d.id, v.dim, 'M', m::date, v.val, :per / v.k, "
        "9 * (:per / v.k), 27 * (:per / v.k) FROM desk d "
        "CROSS JOIN generate_series(DATE '2024-01-01', DATE '2025-12-01', interval '1 month') m "
        "CROSS JOIN (SELECT 'arrival' dim, w || '-' || lpad(h::text, 2, '0') val, 40 k "
        "FROM generate_series(0, 4) w, "
        "generate_series(8, 15) h UNION ALL SELECT 'sex', s, 2 FROM unnest(ARRAY['L', 'P']) s "
        "UNION ALL SELECT 'channel', 'qr', 1) v"), {"per": per})
    db.session.commit()
    t_rollups = time.perf_counter() - t0

    # Raw sample: the sample agency's 2025, with answers and chain links.
    t0 = time.perf_counter()
    ids = Org(qid, element_ids, desk_ids, [])
    head = ledger.head(db.session)
    db.session.commit()
    n_sample = bulk_sample(ids, sample_desks, per, head)
    raw.rebuild_rollups(db.session, sample_desks)
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE"))
    total = db.session.scalar(text(
        "SELECT sum(n) FROM stats_rollup WHERE grain = 'M' AND scope = 'clean'"))
    return {"responses": int(total), "sample": n_sample, "desks": len(desk_ids),
            "rollups_s": t_rollups, "sample_s": time.perf_counter() - t0}


def bulk_sample(ids: Org, desks: list[int], per: int, head: tuple[int, str]) -> int:
    rng = np.random.default_rng(11)
    seq, prev = head
    rid = 0

    def chunks():
        nonlocal seq, prev, rid
        for month in MONTHS[12:]:
            days = (month.replace(month=month.month % 12 + 1, year=month.year + month.month // 12)
                    - month).days if month.month < 12 else 31
            n = per * len(desks)
            desk = np.repeat(desks, per)
            day = np.sort(rng.integers(0, days, n))
            scores = rng.integers(1, 5, size=(n, 9))
            response_rows, links = [], []
            first = rid + 1
            for i in range(n):
                rid += 1
                submitted = datetime(month.year, month.month, 1, 2, tzinfo=UTC) + timedelta(
                    days=int(day[i]), hours=int(i % 8))
                row = {"id": rid, "desk_id": int(desk[i]), "service_id": None,
                       "questionnaire_id": ids.questionnaire_id, "submitted_at": submitted,
                       "day": (submitted + timedelta(hours=7)).date(),
                       "hour": (submitted.hour + 7) % 24, "channel": "qr", "verified": False,
                       "flags": "", "sex": None, "age": None, "education": None,
                       "occupation": None, "comment": None, "idempotency_key": None}
                answers = {ids.element_ids[j]: int(scores[i, j]) for j in range(9)}
                seq += 1
                prev = link_hash(seq, prev, "response", ledger.response_payload(row, answers))
                response_rows.append(tuple(row.values()))
                links.append((seq, "response", rid, prev))
            rids = np.repeat(np.arange(first, rid + 1), 9)
            eids = np.tile(np.array(ids.element_ids[:9]), n)
            yield response_rows, (rids, eids, ids.questionnaire_id, scores.reshape(-1)), links

    bulk_insert(chunks())
    return rid


def timed(fn, repeat: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return median(times)


TOKEN = re.compile(r'name="csrf_token" value="[^"]*"|<meta name="csrf-token"[^>]*>')


def measure(name: str, instance: Path, pages: dict[str, str]) -> dict[str, float]:
    """Times of the pages, exports and verification; the pages' HTML (CSRF token taken
    out) goes to ``pages``, so the two layouts' figures can be compared."""
    app = make_app(pg_url(name), instance)
    out: dict[str, float] = {}
    with app.app_context():
        client = app.test_client()
        login(client, ADMIN)
        for code in ("NAS", SAMPLE):
            for key in ("2025-11", "2025"):
                url = f"/dashboard/{code}?period={key}"

                def page(url=url):
                    reply = client.get(url)
                    assert reply.status_code == 200, (url, reply.status_code)
                    reply.get_data()
                out[f"dashboard {code} {key}"] = timed(page)
                pages[url] = TOKEN.sub("", client.get(url).get_data(as_text=True))
        job = service.ExportJob(get_agency(db.session, SAMPLE), parse_period("2025"),
                                include_flagged=True)
        t0 = time.perf_counter()
        lines = sum(chunk.count("\n") for chunk in service.csv_chunks(db.session, job))
        out["export CSV 2025"] = time.perf_counter() - t0
        out["export rows"] = lines - 1
        t0 = time.perf_counter()
        size = len(service.xlsx_bytes(db.session, job))
        out["export XLSX 2025"] = time.perf_counter() - t0
        out["xlsx bytes"] = size
        period = parse_period("2025-11")
        t0 = time.perf_counter()
        report = ledger.verify_period(db.session, period.start, period.end)
        out["verify 2025-11"] = time.perf_counter() - t0
        assert report.broken is None, report.broken.message()
        out["verify links"] = report.length
        db.session.rollback()
    return out


SMOKE = {"agencies": 3, "desks": 2, "per_desk_month": 30, "rebuild": True}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agencies", type=int, default=250)
    parser.add_argument("--desks", type=int, default=12)
    parser.add_argument("--per-desk-month", type=int, default=694)
    parser.add_argument("--rebuild", action="store_true")
    args = parse_options(parser, argv, SMOKE, "3 agencies of 2 desks, own databases")
    global PLAIN, PART
    if args.smoke:
        PLAIN, PART = PLAIN + "_smoke", PART + "_smoke"
    instance = OUT / "national_instance"
    instance.mkdir(parents=True, exist_ok=True)
    meta: dict = {}
    if args.rebuild or not pg_exists(PLAIN):
        pg_recreate(PLAIN)
        app = make_app(pg_url(PLAIN), instance)
        with app.app_context():
            meta = build(args)
            db.session.remove()
            db.engine.dispose()
        print("built:", meta)
    t0 = time.perf_counter()
    pg_drop(PART)
    _pg_admin(f"CREATE DATABASE {PART} TEMPLATE {PLAIN}", PG_ADMIN_URL)
    copied = time.perf_counter() - t0
    app = make_app(pg_url(PART), instance)
    with app.app_context():
        t0 = time.perf_counter()
        report = partitions.apply(db.session, "month", today=date(2025, 12, 15))
        db.session.commit()
        converted = time.perf_counter() - t0
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE"))
        responses = db.session.scalar(text(
            "SELECT sum(n) FROM stats_rollup WHERE grain = 'M' AND scope = 'clean'"))
        db.session.remove()
        db.engine.dispose()
    print(f"copied in {copied:.1f} s; partitioned ({report.responses} responses, "
          f"{report.answers} answers moved) in {converted:.1f} s; "
          f"{responses:,} responses in the rollups")
    plain_pages: dict[str, str] = {}
    part_pages: dict[str, str] = {}
    plain = measure(PLAIN, instance, plain_pages)
    part = measure(PART, instance, part_pages)
    goals = {"dashboard": "< 200 ms", "export CSV": ">= 100,000 rows/s",
             "verify": "(none for one period)"}
    rows = []
    for key in plain:
        if key in ("export rows", "xlsx bytes", "verify links"):
            continue
        goal = next((g for k, g in goals.items() if key.startswith(k)), "")
        rows.append([key, ms(plain[key]), ms(part[key]), goal])
    rows.append(["export rows / CSV rows per s", f"{plain['export rows']:,.0f} / "
                 f"{plain['export rows'] / plain['export CSV 2025']:,.0f}",
                 f"{part['export rows']:,.0f} / "
                 f"{part['export rows'] / part['export CSV 2025']:,.0f}", ""])
    rows.append(["verify: links checked", f"{plain['verify links']:,}",
                 f"{part['verify links']:,}", ""])
    print(table(["measure", "plain", "partitioned (month)", "goal"], rows))
    print()
    checks = Checks()
    checks.add("partitioning moved every sample response", report.responses == plain["export rows"],
               f"{report.responses:,} moved, {plain['export rows']:,.0f} exported")
    checks.add("the same export rows on both layouts",
               plain["export rows"] == part["export rows"],
               f"{plain['export rows']:,.0f} / {part['export rows']:,.0f}")
    checks.add("the one-period check walks the same intact links on both layouts",
               plain["verify links"] == part["verify links"] > 0,
               f"{plain['verify links']:,} / {part['verify links']:,}")
    differ = [url for url in plain_pages if plain_pages[url] != part_pages.get(url)]
    checks.add("every dashboard page is the same on both layouts", not differ,
               ", ".join(differ) or f"{len(plain_pages)} pages")
    checks.print()
    if args.smoke:
        pg_drop(PLAIN)
        pg_drop(PART)
    return 0 if checks.ok else 1


if __name__ == "__main__":
    sys.exit(main())
