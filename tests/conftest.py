"""Fixtures: a fresh application and database per test, on SQLite by default or on the
PostgreSQL named by SURVEY_TEST_DATABASE_URL. Every test leaves no table behind."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from appfactory import drop_everything, make_app
from factories import SetupMark
from flask import Flask

from survey.core.db import db


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    from survey.core.seed import seed_standards

    SetupMark.reset()
    application = make_app(tmp_path)
    with application.app_context():
        if db.engine.dialect.name == "postgresql":
            db.drop_all()  # a crashed earlier run must not poison this one
        db.create_all()
        seed_standards(db.session)
        db.session.commit()
    yield application
    drop_everything(application)


@pytest.fixture
def client(app: Flask):
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


@pytest.fixture
def ctx(app: Flask):
    with app.app_context():
        yield
        db.session.rollback()


@pytest.fixture
def org(ctx):
    """A small organisation: agency KEC-A with desks L1 and L2, a service, volumes."""
    from datetime import date

    from factories import ORG as s

    s.create_agency(db.session, "KEC-A", "Kecamatan A")
    l1 = s.create_desk(db.session, "KEC-A", "L1", "Loket 1")
    s.create_desk(db.session, "KEC-A", "L2", "Loket 2")
    s.create_service(db.session, "KEC-A", "KTP", "KTP-el", "ID card", ["L1", "L2"])
    s.set_volume(db.session, l1, "month", date(2024, 5, 1), 450)
    SetupMark.take(db.session)
    return s


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert match, "the page has no CSRF token"
    return match.group(1)
