"""Building the application for tests, on SQLite by default or on the PostgreSQL named by
SURVEY_TEST_DATABASE_URL. Shared by conftest, the live-server helpers and the tests."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, g, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import text

from survey import create_app
from survey.core.config import database_uri
from survey.core.db import db

TEST_SECRET = "test-secret-key-not-for-production"
PUBLIC_BASE = "https://survey.example.go.id"
# Rate limits high enough never to answer 429 in a test that sends many requests
# (tests/web/test_limits.py tests the limits themselves). Not RATELIMIT_ENABLED=False:
# Flask-Limiter would keep that for the apps created after it.
NO_LIMITS = {name: "1000000 per minute" for name in (
    "LOGIN_RATE_LIMIT", "LOGIN_ACCOUNT_LIMIT", "SUBMIT_RATE_LIMIT", "RECEIPT_CHECK_LIMIT")}


def database_url_for_tests(tmp_path: Path) -> str:
    url = os.environ.get("SURVEY_TEST_DATABASE_URL")
    return database_uri(url) if url else f"sqlite:///{tmp_path / 'test.sqlite'}"


class IsolatedClient(FlaskClient):
    """A test client whose every request starts with an empty `g`.

    Tests hold an application context for database access, and Flask reuses it for the
    client's requests, so per-request state kept in `g` (Flask-WTF's CSRF token, the
    signed-in user, the chosen locale) would leak from one simulated request or browser to
    the next. Real requests each get a fresh context."""

    def open(self, *args, **kwargs):
        if has_app_context():
            g.__dict__.clear()
        return super().open(*args, **kwargs)


def make_app(tmp_path: Path, **overrides) -> Flask:
    config = {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SQLALCHEMY_DATABASE_URI": database_url_for_tests(tmp_path),
        "SECRET_KEY": TEST_SECRET,
        "PUBLIC_BASE_URL": PUBLIC_BASE,
    }
    config.update(overrides)
    app = create_app(config)
    app.test_client_class = IsolatedClient
    return app


def drop_partition_extras() -> None:
    """The table the partitioned layout adds (survey.core.partitions) references the
    response table, which `db.drop_all` would then refuse to drop."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS response_key CASCADE"))
            conn.execute(text("DROP FUNCTION IF EXISTS survey_response_key() CASCADE"))


def drop_everything(app: Flask) -> None:
    """Remove every table (and the trigger function) so that the next test, or the next CI
    run, starts from an empty database."""
    with app.app_context():
        db.session.remove()
        drop_partition_extras()
        db.drop_all()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
            if conn.dialect.name == "postgresql":
                conn.execute(text("DROP FUNCTION IF EXISTS survey_append_only() CASCADE"))
                conn.execute(text("DROP FUNCTION IF EXISTS survey_response_guard() CASCADE"))
                conn.execute(text("DROP FUNCTION IF EXISTS survey_catalog_bump() CASCADE"))
        db.engine.dispose()
