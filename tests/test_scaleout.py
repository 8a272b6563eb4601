"""Three app servers behind nginx, sharing one PostgreSQL database and one Redis
(`python -m benchmarks.scaleout --smoke`, the README's "Several app servers behind
nginx"): while one server is killed with SIGKILL and restarted under load, every
acknowledged response is stored exactly once and the hash chain stays one chain; rate
limits are exact across the servers and keyed on the client's real address (a forged
X-Forwarded-For changes nothing); a staff session works on every server and ends on every
server when signed out; a desk closed or a period sealed through one server is refused by
every server at once.

It needs nginx, PostgreSQL and Redis on this machine; without one of them it is skipped,
unless SURVEY_REQUIRE_REDIS=1 (CI, which installs nginx and runs both servers), where that
is a failure. PostgreSQL is the server of SURVEY_TEST_DATABASE_URL when set (else
BENCH_PG_URL, else 127.0.0.1:5432), but the database is one of its own, scaleout_<pid>,
created and dropped by the run: never the test database, and the SQLite and PostgreSQL runs
of CI do not meet."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
REDIS = "redis://127.0.0.1:6379"
PG = (os.environ.get("SURVEY_TEST_DATABASE_URL") or os.environ.get("BENCH_PG_URL")
      or "postgresql://postgres@127.0.0.1:5432/postgres")

CHECKS = (
    "every acknowledged response stored",
    "no response stored twice",
    "most citizens acknowledged",
    "every server answered the load",
    "app2 killed (master and workers) mid-load and started again",
    "one address: exactly the limit admitted across servers",
    "one address, forged X-Forwarded-For: exactly the limit admitted across servers",
    "another address is admitted",
    "the receipt is shown and found by every server",
    "a staff session works on every server",
    "a closed desk is refused by every server at once",
    "a sealed period is refused by every server at once",
    "signing out ends the session on every server",
    "every server publishes the same signing key",
    "one chain link and one receipt per response",
    "flask audit verify: one intact chain",
)


def admin_engine():
    """The PostgreSQL server's maintenance database (never the test database)."""
    url = make_url(PG).set(drivername="postgresql+psycopg", database="postgres")
    return create_engine(url, isolation_level="AUTOCOMMIT")


def missing() -> str | None:
    """What this machine lacks for the run, or None."""
    if not (shutil.which("nginx") or os.access("/usr/sbin/nginx", os.X_OK)):
        return "nginx is not installed (apt-get install nginx)"
    engine = admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return f"PostgreSQL is not reachable ({type(exc).__name__})"
    finally:
        engine.dispose()
    try:
        redis.Redis.from_url(REDIS, socket_timeout=1).ping()
    except redis.RedisError:
        return f"Redis is not running at {REDIS}"
    return None


def drop(name: str) -> None:
    engine = admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def table_value(out: str, label: str) -> str:
    """The value column of the table row that starts with `label`."""
    for line in out.splitlines():
        if line.startswith(label):
            return line[len(label):].strip()
    raise AssertionError(f"no row {label!r} in:\n{out}")


@pytest.mark.slow
def test_three_app_servers_behind_nginx_share_one_database_and_redis():
    reason = missing()
    if reason:
        if os.environ.get("SURVEY_REQUIRE_REDIS") == "1":
            pytest.fail(f"SURVEY_REQUIRE_REDIS=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    name = f"scaleout_{os.getpid()}"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "FLASK_DEBUG")}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.scaleout", "--smoke", "--database", name,
             "--pg-url", PG, "--redis", REDIS],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    finally:
        drop(name)  # the run drops it too; this covers a run that was cut short
    out = proc.stdout
    assert proc.returncode == 0, (f"benchmarks.scaleout --smoke exited {proc.returncode}\n"
                                  f"--- stdout\n{out[-6000:]}\n--- stderr\n{proc.stderr[-4000:]}")
    checks = out.split("## checks", 1)[1].strip().splitlines()
    for check in CHECKS:
        line = next((c for c in checks if c[4:].strip().startswith(check + ":")), None)
        assert line is not None, f"no check {check!r} in:\n" + "\n".join(checks)
        assert line.startswith("ok"), line
    assert all(c.startswith("ok") for c in checks), "\n".join(checks)
    assert table_value(out, "lost: acknowledged, not stored (must be 0)") == "0"
    assert table_value(out, "stored twice (must be 0)") == "0"
