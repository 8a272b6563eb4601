"""Concurrent submissions against a real server (gunicorn, 4 workers) on the test
database: a ticket is consumed exactly once, an idempotency key stores one response, and
the hash chain stays linear."""

from __future__ import annotations

import contextlib
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select
from support.factories import SetupMark
from support.live_server import gunicorn

from survey.core import ledger, tickets
from survey.core.chain import link_hash
from survey.core.db import db
from survey.core.models import ChainEntry, Desk, Receipt, Response

pytestmark = pytest.mark.slow


@pytest.fixture
def server(app, org, tmp_path):
    instance = tmp_path / "server"
    instance.mkdir()
    with gunicorn(app.config["SQLALCHEMY_DATABASE_URI"], instance, workers=4) as base:
        yield base


def browser(base: str, path: str) -> tuple[requests.Session, dict]:
    """A fresh browser session that opened the form; returns it and the form body."""
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=100))
    page = session.get(base + path, timeout=30)
    assert page.status_code == 200, page.status_code
    fields = {name: re.search(rf'name="{name}" value="([^"]*)"', page.text).group(1)
              for name in ("csrf_token", "idempotency_key", "t")}
    service = re.search(r'<select name="service"[^>]*>.*?<option value="(\d+)"', page.text,
                        re.S).group(1)
    return session, {**fields, "service": service, **{f"U{i}": "3" for i in range(1, 10)}}


def fire(jobs, workers: int):
    """Run the callables as simultaneously as possible; returns their results."""
    barrier = threading.Barrier(min(len(jobs), workers))

    def run(job):
        # A last, smaller wave starts without waiting for a full barrier.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=30)
        return job()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, jobs))


def post(session: requests.Session, url: str, body: dict):
    return lambda: session.post(url, data=body, allow_redirects=False, timeout=60)


def receipt_shown(session: requests.Session, base: str) -> str:
    page = session.get(f"{base}/selesai", timeout=30)
    return re.search(r'id="receipt">([^<]+)<', page.text).group(1).strip()


def fresh_snapshot() -> None:
    """End the test's read transaction so it sees what the server committed since."""
    db.session.rollback()


def count_responses() -> int:
    fresh_snapshot()
    return db.session.scalar(select(func.count()).select_from(Response))


def assert_linear_chain() -> int:
    """Every link after the fixture's audited setup follows the previous one (seq base+1..
    base+n, each hash over its predecessor); returns n."""
    fresh_snapshot()
    prev, seq = SetupMark.head, SetupMark.links
    for entry in db.session.scalars(select(ChainEntry).where(ChainEntry.seq > seq)
                                    .order_by(ChainEntry.seq)):
        seq += 1
        assert entry.seq == seq
        response = db.session.get(Response, entry.ref_id)
        row = {c.name: getattr(response, c.name) for c in Response.__table__.columns}
        answers = {a.element_id: a.score for a in response.answers}
        assert entry.hash == link_hash(seq, prev, "response",
                                       ledger.response_payload(row, answers))
        prev = entry.hash
    assert ledger.head(db.session) == (seq, prev)
    return seq - SetupMark.links


def test_one_ticket_used_by_100_at_once_stores_exactly_one(server):
    desk = db.session.scalar(select(Desk).where(Desk.code == "L1"))
    token = tickets.issue(db.session, desk, 1, 24)[0]
    db.session.commit()
    browsers = [browser(server, f"/t/{token}") for _ in range(100)]
    results = fire([post(s, f"{server}/t/{token}", body) for s, body in browsers], 100)
    codes = sorted(r.status_code for r in results)
    assert codes.count(303) == 1 and codes.count(409) == 99, codes
    assert count_responses() == 1
    assert db.session.scalar(select(Response.verified))


def test_20_replays_of_one_idempotency_key_store_one(server):
    desk = db.session.scalar(select(Desk).where(Desk.code == "L1"))
    session, body = browser(server, f"/s/{desk.slug}")
    results = fire([post(session, f"{server}/s/{desk.slug}", body) for _ in range(20)], 20)
    assert {r.status_code for r in results} == {303}
    assert len({r.headers["Location"] for r in results}) == 1
    assert count_responses() == 1


def test_200_distinct_submissions_all_stored_on_a_linear_chain(server):
    desk = db.session.scalar(select(Desk).where(Desk.code == "L2"))
    browsers = [browser(server, f"/s/{desk.slug}") for _ in range(200)]
    results = fire([post(s, f"{server}/s/{desk.slug}", body) for s, body in browsers], 100)
    assert [r.status_code for r in results] == [303] * 200
    assert count_responses() == 200
    assert assert_linear_chain() == 200
    # Every citizen sees their own receipt on the thank-you page, and it is on the chain.
    shown = {receipt_shown(s, server) for s, _ in browsers}
    stored = set(db.session.scalars(select(Receipt.code)))
    assert len(shown) == 200 and shown == stored
