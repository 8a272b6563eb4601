"""The application factory, configuration precedence, the secret-key guard, SQLite set-up."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text
from support.app import TEST_SECRET, make_app

from survey import create_app
from survey.core.config import DEFAULT_SECRET_KEY, InsecureConfigError, database_uri
from survey.core.db import db, write_transaction


def test_config_precedence_defaults_instance_env_test_config(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text(
        "PUBLIC_BASE_URL = 'https://from-instance.example'\n"
        "TIMEZONE = 'Asia/Makassar'\n"
        "SURVEY_COOLDOWN_MINUTES = 45\n"
        f"SECRET_KEY = '{'i' * 32}'\n"
    )
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://from-env.example")
    monkeypatch.setenv("SURVEY_COOLDOWN_MINUTES", "15")
    app = create_app({"INSTANCE_PATH": str(instance), "TESTING": True,
                      "SURVEY_COOLDOWN_MINUTES": 5})
    assert app.config["SURVEY_MIN_FILL_SECONDS"] == 8  # default
    assert app.config["TIMEZONE"] == "Asia/Makassar"  # instance file over default
    assert app.config["PUBLIC_BASE_URL"] == "https://from-env.example"  # env over file
    assert app.config["SURVEY_COOLDOWN_MINUTES"] == 5  # test config over env
    assert app.config["SECRET_KEY"] == "i" * 32
    assert app.instance_path == str(instance)


def test_default_database_is_sqlite_in_instance(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"INSTANCE_PATH": str(tmp_path), "TESTING": True})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/survey.sqlite"


def test_database_url_selects_psycopg3(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.internal:5432/skm")
    app = create_app({"INSTANCE_PATH": str(tmp_path), "TESTING": True})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db.internal:5432/skm"
    assert database_uri("postgresql://x/y") == "postgresql+psycopg://x/y"
    assert database_uri("sqlite:///a.db") == "sqlite:///a.db"


def test_bad_environment_value_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("SURVEY_COOLDOWN_MINUTES", "half an hour")
    with pytest.raises(InsecureConfigError, match="SURVEY_COOLDOWN_MINUTES"):
        create_app({"INSTANCE_PATH": str(tmp_path), "TESTING": True})


@pytest.mark.parametrize("key", [None, DEFAULT_SECRET_KEY, "short"])
def test_production_refuses_default_or_weak_secret_key(tmp_path, monkeypatch, key):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    config = {"INSTANCE_PATH": str(tmp_path)}
    if key is not None:
        config["SECRET_KEY"] = key
    with pytest.raises(InsecureConfigError, match="SECRET_KEY"):
        create_app(config)


def test_production_starts_with_a_real_secret_key(tmp_path, monkeypatch):
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    app = create_app({"INSTANCE_PATH": str(tmp_path),
                      "PUBLIC_BASE_URL": "https://skm.example.go.id"})
    assert not app.debug and not app.testing
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True


def test_debug_allows_the_default_key(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("FLASK_DEBUG", "1")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.debug and app.config["SECRET_KEY"] == DEFAULT_SECRET_KEY


def test_security_headers_on_every_page(client):
    response = client.get("/")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_sqlite_connections_enable_foreign_keys_wal_and_busy_timeout(tmp_path):
    app = make_app(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'p.sqlite'}")
    with app.app_context():
        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
        db.engine.dispose()


def test_sqlite_write_transactions_begin_immediate(tmp_path):
    """A write transaction holds the write lock from its first statement, so a second
    writer waits (or, with no patience, is refused) instead of both reading and then
    failing to upgrade."""
    path = tmp_path / "lock.sqlite"
    app = make_app(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}")
    with app.app_context():
        db.session.execute(text("CREATE TABLE t (x INTEGER)"))
        db.session.commit()
        with write_transaction(db.session):
            db.session.execute(text("SELECT count(*) FROM t"))  # a read only, so far
            other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            other.close()
        # After commit the lock is gone.
        other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        other.close()
        db.engine.dispose()


def test_write_transaction_rolls_back_on_error(app):
    from support.factories import ORG as org

    from survey.core.models import Agency

    with app.app_context():
        with pytest.raises(RuntimeError), write_transaction(db.session):
            org.create_agency(db.session, "TMP", "Temporary")
            raise RuntimeError("boom")
        assert db.session.query(Agency).filter_by(code="TMP").count() == 0


def test_home_page_lists_agencies_and_active_desks(app, client, org):
    from survey.core.models import Desk

    with app.app_context():
        desk = db.session.query(Desk).filter_by(code="L2").one()
        desk.active = False
        db.session.commit()
    html = client.get("/").get_data(as_text=True)
    assert "Kecamatan A" in html and "KEC-A" in html
    assert "Loket 1" in html
    assert "Loket 2" not in html  # inactive desks are not offered


def test_home_page_speaks_indonesian_by_default_and_english_on_request(client):
    assert 'lang="id"' in client.get("/").get_data(as_text=True)
    switched = client.get("/bahasa/en?next=/")
    assert switched.status_code == 303 and switched.headers["Location"] == "/"
    html = client.get("/").get_data(as_text=True)
    assert 'lang="en"' in html and "Citizen Satisfaction Survey" in html


def test_language_switch_is_not_an_open_redirect(client):
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        assert client.get("/bahasa/en", query_string={"next": target}).headers[
            "Location"] == "/"
    assert client.get("/bahasa/xx").status_code == 404


def test_secret_used_by_tests_is_not_the_default():
    assert TEST_SECRET != DEFAULT_SECRET_KEY


def test_indonesian_catalogue_translates_every_interface_string():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "tools" / "i18n.py"
    spec = importlib.util.spec_from_file_location("i18n_tool", path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.missing() == []
    mo = tool.CATALOGUE.with_suffix(".mo")
    assert mo.stat().st_mtime >= tool.CATALOGUE.stat().st_mtime - 1, "run make translations"


def test_home_page_in_indonesian(client):
    html = client.get("/").get_data(as_text=True)
    assert "Survei Kepuasan Masyarakat" in html
    assert "pindai kode QR di loket pelayanan" in html


@pytest.mark.parametrize("path, data", [
    ("/auth/login", {"email": "a\x00@x.go.id", "password": "x"}),
    ("/auth/login", {"email": "ok@x.go.id", "password": "pass\x00word"}),
])
def test_nul_characters_in_forms_are_refused_before_anything_reads_them(client, path, data):
    response = client.post(path, data=data)
    assert response.status_code == 400


def test_nul_in_the_address_is_refused(client):
    assert client.get("/s/abc%00def").status_code == 400
    assert client.get("/dashboard/?period=2024%00").status_code == 400
