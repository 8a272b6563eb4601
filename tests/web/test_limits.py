"""Rate limits that hold: exact across worker processes with a shared store, keyed on the
real client behind a trusted proxy, failing open (the survey keeps accepting answers,
staff keep signing in) when the store is down; and gunicorn refuses several workers with
per-process limits unless told."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import redis
import requests
from sqlalchemy import func, select
from support.app import TEST_SECRET
from support.factories import desk, make_user
from support.live_server import gunicorn
from support.web import form_fields, get, login

from survey.core.db import db
from survey.core.models import Response

ROOT = Path(__file__).resolve().parents[2]
REDIS = "redis://127.0.0.1:6379"


def redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def stored() -> int:
    db.session.rollback()  # end this session's read: the servers wrote in their own
    return db.session.scalar(select(func.count()).select_from(Response))


def answers(page: str) -> dict[str, str]:
    return {**form_fields(page), **{f"U{i}": "3" for i in range(1, 10)},
            "service": re.search(r'<option value="(\d+)"', page).group(1)}


@pytest.mark.slow
def test_a_limit_is_exact_across_four_workers_with_redis(app, org, tmp_path):
    """4 workers, 30 submissions a minute allowed, 60 sent from one address: exactly 30
    stored (with per-process counting, up to 120 would have been)."""
    if not redis_up():
        if os.environ.get("SURVEY_REQUIRE_REDIS") == "1":
            pytest.fail("SURVEY_REQUIRE_REDIS=1 but Redis is not running on 127.0.0.1:6379")
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    instance = tmp_path / "server"
    instance.mkdir()
    url = f"/s/{desk().slug}"
    with gunicorn(app.config["SQLALCHEMY_DATABASE_URI"], instance, workers=4,
                  RATELIMIT_STORAGE_URI=REDIS, ALLOW_PER_PROCESS_LIMITS="0",
                  RATELIMIT_KEY_PREFIX=f"test-{secrets.token_hex(6)}",
                  SUBMIT_RATE_LIMIT="30 per minute", SURVEY_MIN_FILL_SECONDS="0",
                  SURVEY_BURST_LIMIT="100000") as base:
        codes = []
        for _ in range(60):
            with requests.Session() as browser:
                page = browser.get(base + url, timeout=30).text
                codes.append(browser.post(base + url, data=answers(page), timeout=30,
                                          allow_redirects=False).status_code)
    assert codes.count(303) == 30 and codes.count(429) == 30
    assert stored() == 30


def test_limits_key_on_the_client_behind_a_trusted_proxy(tmp_path):
    from support.app import drop_everything, make_app
    from support.factories import ORG

    from survey.core.seed import seed_standards

    app = make_app(tmp_path, TRUSTED_PROXIES=1, SUBMIT_RATE_LIMIT="2 per minute",
                   SURVEY_MIN_FILL_SECONDS=0)
    try:
        with app.app_context():
            db.create_all()
            seed_standards(db.session)
            ORG.create_agency(db.session, "KEC-A", "Kecamatan A")
            ORG.create_desk(db.session, "KEC-A", "L1", "Loket 1")
            db.session.commit()
            url = f"/s/{desk().slug}"

            def post(client_address: str) -> int:
                browser = app.test_client()
                headers = {"X-Forwarded-For": client_address}
                page = browser.get(url, headers=headers).get_data(as_text=True)
                return browser.post(url, data={**form_fields(page),
                                               **{f"U{i}": "3" for i in range(1, 10)}},
                                    headers=headers).status_code

            # All traffic reaches the app from nginx (127.0.0.1); each citizen has a limit.
            assert [post("203.0.113.5") for _ in range(3)] == [303, 303, 429]
            assert post("198.51.100.9") == 303
    finally:
        drop_everything(app)


def test_without_the_limit_store_the_site_keeps_serving(app, org, tmp_path, runner):
    """Redis down (nothing listens on the port): answers are stored, staff sign in, the
    API answers; the limits fail open and say so in the log."""
    from support.app import make_app

    broken = make_app(tmp_path / "second", SQLALCHEMY_DATABASE_URI=app.config[
        "SQLALCHEMY_DATABASE_URI"], RATELIMIT_STORAGE_URI="redis://127.0.0.1:1",
                      SURVEY_MIN_FILL_SECONDS=0)
    make_user(org, "aud@bpk.go.id", "auditor")
    token = runner.invoke(args=["user", "token", "--email", "aud@bpk.go.id"]).output.strip()
    client = broken.test_client()
    url = f"/s/{desk().slug}"
    with broken.app_context():
        try:
            page = get(client, url).get_data(as_text=True)
            sent = client.post(url, data=answers(page))
            assert sent.status_code == 303
            assert login(client, "aud@bpk.go.id").status_code == 302
            api = broken.test_client().get("/api/v1/agencies",
                                            headers={"Authorization": f"Bearer {token}"})
            assert api.status_code == 200
        finally:
            db.session.remove()
            db.engine.dispose()  # the second app's connections to the test database
    assert stored() == 1


def test_gunicorn_refuses_several_workers_counting_limits_each_on_its_own(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}",
           "SECRET_KEY": TEST_SECRET, "SURVEY_INSTANCE_PATH": str(tmp_path / "instance")}
    env.pop("RATELIMIT_STORAGE_URI", None)
    gunicorn_bin = Path(sys.executable).with_name("gunicorn")
    refused = subprocess.run([str(gunicorn_bin), "--workers", "3", "--bind", "127.0.0.1:0",
                              "survey:create_app()"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    assert "refusing to start" in refused.stderr + refused.stdout
    assert "redis://" in refused.stderr + refused.stdout
