"""The migrations build exactly the schema the models describe, triggers included."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from survey.core.db import db


def test_upgrade_then_autogenerate_finds_no_difference(empty_app):
    with empty_app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "render_as_batch": True})
            diff = compare_metadata(context, db.metadata)
        assert diff == []


def test_migrated_database_enforces_append_only_and_has_the_chain_head(empty_app):
    from datetime import UTC, datetime

    from survey.core.models import Desk
    from survey.core.responses import NewResponse, record_responses
    from survey.core.seed import seed_standards

    with empty_app.app_context():
        upgrade()
        assert db.session.execute(text("SELECT seq FROM chain_head WHERE id = 1")).scalar() == 0
        seed_standards(db.session)
        from support.factories import ORG as org

        org.create_agency(db.session, "A", "A")
        desk: Desk = org.create_desk(db.session, "A", "L1", "L1")
        rid = record_responses(db.session, [NewResponse(
            desk_id=desk.id, answers={"U1": 4}, submitted_at=datetime.now(UTC),
            channel="qr")])[0].response_id
        db.session.commit()
        for statement in (f"UPDATE response SET hour = 1 WHERE id = {rid}",
                          f"DELETE FROM answer WHERE response_id = {rid}"):
            with pytest.raises(DBAPIError, match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()


def test_downgrade_to_base_removes_everything(empty_app):
    with empty_app.app_context():
        upgrade()
        downgrade(revision="base")
        tables = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set()


def test_migrated_database_raises_the_catalog_stamp_with_every_catalog_change(empty_app):
    """The desk copies of the app processes (survey.core.catalog) rely on these triggers."""
    from support.factories import ORG as org

    from survey.core.seed import seed_standards

    with empty_app.app_context():
        upgrade()

        def version() -> int:
            db.session.commit()
            return db.session.execute(
                text("SELECT version FROM catalog_stamp WHERE id = 1")).scalar()

        assert version() == 0
        seed_standards(db.session)
        assert version() == 0  # questionnaires are not part of the catalog
        seen = 0
        for change in (lambda: org.create_agency(db.session, "A", "A"),
                       lambda: org.create_desk(db.session, "A", "L1", "L1"),
                       lambda: org.create_service(db.session, "A", "S", "S", "S", ["L1"]),
                       lambda: db.session.execute(text("UPDATE desk SET active = false")),
                       lambda: db.session.execute(text("DELETE FROM desk_service")),
                       lambda: db.session.execute(text("UPDATE service SET name_id = 'T'")),
                       lambda: db.session.execute(text("UPDATE agency SET name = 'B'")),
                       lambda: db.session.execute(text(
                           "INSERT INTO reporting_period (key, created_at) "
                           "VALUES ('2024', CURRENT_TIMESTAMP)")),
                       lambda: db.session.execute(text(
                           "UPDATE reporting_period SET closed_at = CURRENT_TIMESTAMP"))):
            change()
            assert version() > seen
            seen = version()
