"""GET /healthz: whether the application can reach its database, for load balancers and
monitoring (200 with {"database": "ok"}, else 503)."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from survey.core.db import db
from survey.web.access import PUBLIC

bp = Blueprint("health", __name__)
POLICY = {"health.check": PUBLIC}


@bp.get("/healthz", endpoint="check")
def check():
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except SQLAlchemyError:
        db.session.rollback()
        return {"status": "unavailable", "database": "unreachable"}, 503, {
            "Retry-After": "30", "Cache-Control": "no-store"}
    return {"status": "ok", "database": "ok"}, 200, {"Cache-Control": "no-store"}
