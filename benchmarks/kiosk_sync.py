"""Benchmark: an offline kiosk tablet sending what it kept. Run:
``python -m benchmarks.kiosk_sync [--rounds 20] [--backends sqlite,postgresql]``
(``--smoke``: SQLite, two rounds, for the checks only).

Each round, an enrolled tablet sends 50 kept responses to ``POST /k/<slug>/sync`` in two
batches of 25 (the tablet's batch size), then sends the same 50 again, as a tablet does
after a connection broke before it heard back (every one is acknowledged as already
stored). Server time of each request in this process (the application on the database,
no network). Checks: every round stores exactly 50 responses, the replays none.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from benchmarks.lib import OUT, about, backend_labels, make_app, ms, parse_args, percentile, table
from benchmarks.submit import fresh_database, prepare_survey
from survey.core.db import db, utcnow
from survey.core.models import Desk, Response
from survey.core.org import kiosks
from survey.web.devices import KIOSK_COOKIE, cookie_value

SMOKE = {"rounds": 2, "backends": "sqlite"}
PER_ROUND = 50
BATCH = 25


def items(count: int, service_id: int) -> list[dict]:
    now = utcnow()
    return [{"key": secrets.token_urlsafe(18), "answers": {f"U{i}": 1 + (n + i) % 4
                                                        for i in range(1, 10)},
             "captured_at": (now - timedelta(minutes=3 * n)).isoformat(),
             "service": service_id, "sex": None, "age": None, "education": None,
             "occupation": None, "comment": "Antrean cepat" if n % 5 == 0 else None}
            for n in range(count)]


def send(client, slug: str, batch: list[dict], waiting: int) -> tuple[float, list[dict]]:
    began = time.perf_counter()
    answer = client.post(f"/k/{slug}/sync", json={
        "lang": "id", "sent_at": utcnow().isoformat(), "waiting": waiting, "refused": 0,
        "responses": batch})
    took = time.perf_counter() - began
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return took, answer.get_json()["results"]


def measure(label: str, args: argparse.Namespace, work: Path) -> dict:
    database = fresh_database(label, "survey", work, "_kiosk")
    instance = work / f"instance-{label}"
    instance.mkdir()
    prepare_survey(database, instance)
    app = make_app(database.uri, instance)
    app.config["SURVEY_SYNC_RATE_LIMIT"] = "100000 per minute"
    fresh, replayed, problems = [], [], []
    with app.app_context():
        desk = db.session.scalar(select(Desk))
        device, secret = kiosks.enrol(db.session, desk, "Tablet benchmark", actor=None)
        db.session.commit()
        slug, service_id = desk.slug, desk.services[0].id
        client = app.test_client()
        client.set_cookie(KIOSK_COOKIE, cookie_value(device.id, secret), path="/k/")
        for round_number in range(args.rounds):
            kept = items(PER_ROUND, service_id)
            total = 0.0
            for start in range(0, PER_ROUND, BATCH):
                took, results = send(client, slug, kept[start:start + BATCH],
                                     PER_ROUND - start - BATCH)
                total += took
                if {r["status"] for r in results} != {"stored"}:
                    problems.append(f"round {round_number}: not all stored: {results[:2]}")
            fresh.append(total)
            total = 0.0
            for start in range(0, PER_ROUND, BATCH):
                took, results = send(client, slug, kept[start:start + BATCH], 0)
                total += took
                if {r["status"] for r in results} != {"duplicate"}:
                    problems.append(f"round {round_number}: a replay was stored again")
            replayed.append(total)
        db.session.rollback()
        count = db.session.scalar(select(func.count()).select_from(Response))
        if count != PER_ROUND * args.rounds:
            problems.append(f"{count} responses stored, expected {PER_ROUND * args.rounds}")
        db.session.remove()
        db.engine.dispose()
    database.target.drop()
    return {"label": label, "fresh": fresh, "replayed": replayed, "problems": problems}


def report(results: list[dict], args: argparse.Namespace) -> list[str]:
    print()
    print(f"# Kiosk sync: 50 kept responses in 2 batches of {BATCH}, {args.rounds} rounds")
    print(about(args.load_before))
    print()

    def pcts(values: list[float]) -> str:
        return " / ".join(ms(percentile(values, q)) for q in (50, 90))

    rows = [
        ["50 new responses: p50 / p90", *(pcts(r["fresh"]) for r in results)],
        ["   per response, p50",
         *(ms(percentile(r["fresh"], 50) / PER_ROUND) for r in results)],
        ["the same 50 again, all acknowledged as stored: p50 / p90",
         *(pcts(r["replayed"]) for r in results)],
    ]
    print(table(["", *(r["label"] for r in results)], rows))
    problems = [f"{r['label']}: {p}" for r in results for p in r["problems"]]
    for problem in problems:
        print("FAILED:", problem)
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=20)
    args = parse_args(parser, argv, SMOKE, "SQLite, two rounds")
    args.load_before = os.getloadavg()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        results = [measure(label, args, Path(tmp)) for label in backend_labels(args.backends)]
    return 1 if report(results, args) else 0


if __name__ == "__main__":
    sys.exit(main())
