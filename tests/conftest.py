"""Fixtures: a fresh application and database per test, on SQLite by default or on the
PostgreSQL named by SURVEY_TEST_DATABASE_URL. Every test leaves no table behind."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from support.app import drop_everything, drop_partition_extras, make_app
from support.factories import ORG, SetupMark

from survey.core.db import db
from survey.core.seed import seed_standards


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Settings on top of the test defaults (support.app.make_app); a test module that
    needs others (a shorter minimum fill time, no rate limits) overrides this fixture."""
    return {}


@pytest.fixture
def app(tmp_path: Path, app_config: dict[str, Any]) -> Iterator[Flask]:
    """A fresh application on a fresh database with the standard questionnaires."""
    SetupMark.reset()
    application = make_app(tmp_path, **app_config)
    with application.app_context():
        if db.engine.dialect.name == "postgresql":
            drop_partition_extras()  # a crashed earlier run must not poison this one
            db.drop_all()
        db.create_all()
        seed_standards(db.session)
        db.session.commit()
    yield application
    drop_everything(application)


@pytest.fixture
def empty_app(tmp_path: Path) -> Iterator[Flask]:
    """An application whose database has no tables yet (migrations, `flask init`)."""
    application = make_app(tmp_path)
    with application.app_context():
        drop_partition_extras()
        db.drop_all()  # the database must start empty
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
    ORG.create_agency(db.session, "KEC-A", "Kecamatan A")
    l1 = ORG.create_desk(db.session, "KEC-A", "L1", "Loket 1")
    ORG.create_desk(db.session, "KEC-A", "L2", "Loket 2")
    ORG.create_service(db.session, "KEC-A", "KTP", "KTP-el", "ID card", ["L1", "L2"])
    ORG.set_volume(db.session, l1, "month", date(2024, 5, 1), 450)
    SetupMark.take(db.session)
    return ORG
