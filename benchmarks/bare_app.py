"""The ceiling of this stack for benchmarks/submit.py: a bare Flask app under the same
gunicorn settings, with one GET that serves a small form and one POST that inserts one
row into a one-table database (SQLite in WAL mode with the application's pragmas, or
PostgreSQL through psycopg 3), through SQLAlchemy Core.

    BARE_DATABASE_URL=sqlite:////tmp/bare.sqlite gunicorn 'bare_app:create_app()'
"""

from __future__ import annotations

import os
import secrets

from flask import Flask, redirect, request
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, create_engine, event

metadata = MetaData()
submission = Table(
    "submission", metadata,
    Column("id", Integer, primary_key=True),
    Column("answers", String(64), nullable=False),
)

FORM = """<!doctype html><html lang="id"><meta charset="utf-8"><title>Survei</title>
<form method="post"><input type="hidden" name="idempotency_key" value="{key}">
{questions}<button>Kirim</button></form></html>"""
QUESTIONS = "".join(f'<label>U{i} <input name="U{i}" type="number" min="1" max="4"></label>'
                    for i in range(1, 10))


def make_engine(url: str) -> Engine:
    """An engine with the same SQLite settings as the application (WAL, NORMAL sync,
    busy timeout, foreign keys)."""
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            for pragma in ("foreign_keys = ON", "busy_timeout = 30000", "journal_mode = WAL",
                           "synchronous = NORMAL"):
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()
    return engine


def create_app() -> Flask:
    engine = make_engine(os.environ["BARE_DATABASE_URL"])
    app = Flask(__name__)

    @app.get("/s/<slug>")
    def form(slug: str):
        return FORM.format(key=secrets.token_urlsafe(18), questions=QUESTIONS)

    @app.post("/s/<slug>")
    def submit(slug: str):
        answers = ",".join(request.form.get(f"U{i}", "") for i in range(1, 10))
        with engine.begin() as conn:
            conn.execute(submission.insert().values(answers=answers))
        return redirect(f"/s/{slug}", code=303)

    return app
