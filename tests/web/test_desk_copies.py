"""Each app process keeps a copy of the desks (survey.core.catalog) and of each blank form;
a change to an agency, desk or service, made by anyone (the admin pages, a command, a
psql session on another server), must show on the very next request, because the copy is
checked against a stamp the database's triggers raise."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, text
from support.factories import desk
from support.web import answers, open_form, service_id

from survey.core import catalog
from survey.core.db import db
from survey.core.models import CatalogStamp, Response


@pytest.fixture
def app_config():
    return dict(SURVEY_MIN_FILL_SECONDS=0)


def elsewhere(statement: str, **params) -> None:
    """A change committed on another connection, as another server or psql would. The
    test's own session (which the test client's requests share) then starts afresh, as
    each real request does."""
    db.session.rollback()
    with db.engine.begin() as conn:
        conn.execute(text(statement), params)
    db.session.rollback()


def stored() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Response))


def test_renamed_desk_agency_and_service_show_on_the_next_form(org, client):
    d = desk()
    html, _ = open_form(client, f"/s/{d.slug}")
    assert "Loket 1" in html and "Kecamatan A" in html and "KTP-el" in html
    elsewhere("UPDATE desk SET name = 'Loket Satu' WHERE id = :id", id=d.id)
    html, _ = open_form(client, f"/s/{d.slug}")
    assert "Loket Satu" in html and "Loket 1" not in html
    elsewhere("UPDATE agency SET name = 'Kecamatan Baru'")
    elsewhere("UPDATE service SET name_id = 'KTP elektronik'")
    html, _ = open_form(client, f"/s/{d.slug}")
    assert "Kecamatan Baru" in html and "KTP elektronik" in html


def test_service_taken_off_the_desk_leaves_the_form_and_is_refused(org, client):
    d = desk()
    html, hidden = open_form(client, f"/s/{d.slug}")
    service = service_id(html)
    elsewhere("UPDATE service SET active = false")
    html, _ = open_form(client, f"/s/{d.slug}")
    assert 'name="service"' not in html
    elsewhere("UPDATE service SET active = true")
    elsewhere("DELETE FROM desk_service WHERE desk_id = :id", id=d.id)
    html, _ = open_form(client, f"/s/{d.slug}")
    assert 'name="service"' not in html
    # A form opened before the change still names the service: refused, nothing stored.
    answer = client.post(f"/s/{d.slug}", data={**hidden, **answers(), "service": service})
    assert answer.status_code == 400
    assert stored() == 0


def test_desk_closed_elsewhere_refuses_the_next_form_and_the_next_answer(org, client):
    d = desk()
    _, hidden = open_form(client, f"/s/{d.slug}")
    page = client.get(f"/s/{d.slug}")
    assert page.status_code == 200
    elsewhere("UPDATE desk SET active = false WHERE id = :id", id=d.id)
    assert client.get(f"/s/{d.slug}").status_code == 410
    answer = client.post(f"/s/{d.slug}", data={**hidden, **answers()})
    assert answer.status_code == 410
    assert stored() == 0
    elsewhere("UPDATE desk SET active = true WHERE id = :id", id=d.id)
    html, hidden = open_form(client, f"/s/{d.slug}")
    answer = client.post(f"/s/{d.slug}",
                         data={**hidden, **answers(), "service": service_id(html)})
    assert answer.status_code == 303
    assert stored() == 1


def test_every_catalog_change_raises_the_stamp_and_nothing_else_does(org):
    def version() -> int:
        return db.session.scalar(select(CatalogStamp.version))

    d = desk()
    before = version()
    for statement in ("UPDATE desk SET location = 'Lantai 2'",
                      "UPDATE agency SET head_name = 'Budi'",
                      "UPDATE service SET name_en = 'e-ID'",
                      f"DELETE FROM desk_service WHERE desk_id = {d.id}"):
        elsewhere(statement)
        assert version() > before, statement
        before = version()
    elsewhere("UPDATE app_user SET email = email")
    assert version() == before


def test_a_recreated_database_never_matches_an_old_copy(org):
    first = catalog.stamp(db.session)
    assert catalog.desk_by_slug(db.session, desk().slug).name == "Loket 1"
    db.session.commit()
    db.drop_all()
    db.create_all()
    second = catalog.stamp(db.session)
    assert second is not None and second[0] != first[0]
    assert catalog.desk_by_slug(db.session, "anything-at-all-x") is None


def test_without_its_stamp_row_the_catalog_reads_the_database_every_time(org):
    d = desk()
    elsewhere("DELETE FROM catalog_stamp")
    assert catalog.stamp(db.session) is None
    assert catalog.desk_by_slug(db.session, d.slug).name == "Loket 1"
    elsewhere("UPDATE desk SET name = 'Loket Satu'")
    assert catalog.desk_by_slug(db.session, d.slug).name == "Loket Satu"


def test_unknown_links_are_404_and_not_remembered(org, client):
    assert client.get("/s/NoSuchDeskAtAll99").status_code == 404
    d = desk()
    old = d.slug
    assert client.get(f"/s/{old}").status_code == 200
    elsewhere("UPDATE desk SET slug = 'NoSuchDeskAtAll99' WHERE id = :id", id=d.id)
    assert client.get("/s/NoSuchDeskAtAll99").status_code == 200
    assert client.get(f"/s/{old}").status_code == 404


TOKENS = re.compile(r'name="(csrf_token|idempotency_key|t)" value="([^"]+)"')


def test_a_kept_blank_form_gets_fresh_tokens_and_equals_a_rendered_one(org, client, app):
    d = desk()
    first, _ = open_form(client, f"/s/{d.slug}")
    second, _ = open_form(client, f"/s/{d.slug}")
    one, two = dict(TOKENS.findall(first)), dict(TOKENS.findall(second))
    assert set(one) == set(two) == {"csrf_token", "idempotency_key", "t"}
    assert one["idempotency_key"] != two["idempotency_key"] and one["t"] != two["t"]
    assert app.extensions["survey_blank_form_marker"] not in second
    app.extensions["survey_blank_forms"].clear()
    third, _ = open_form(client, f"/s/{d.slug}")
    assert TOKENS.sub("", second) == TOKENS.sub("", third)
    # The language is part of what is kept.
    client.get("/bahasa/en")
    english, _ = open_form(client, f"/s/{d.slug}")
    assert 'lang="en"' in english and "Send answers" in english
    client.get("/bahasa/id")
    again, _ = open_form(client, f"/s/{d.slug}")
    assert 'lang="id"' in again and TOKENS.sub("", again) == TOKENS.sub("", third)


def test_each_kept_form_sends_and_is_stored_once(org, client):
    d = desk()
    for _ in range(3):
        html, hidden = open_form(client, f"/s/{d.slug}")
        answer = client.post(f"/s/{d.slug}", data={**hidden, **answers(),
                                                   "service": service_id(html)})
        assert answer.status_code == 303
    assert stored() == 3


def test_period_sealed_elsewhere_refuses_the_next_answer(org, client):
    from survey.core.db import utcnow
    from survey.core.models import ReportingPeriod

    d = desk()
    year = str(utcnow().year)
    db.session.add(ReportingPeriod(key=year))
    db.session.commit()
    html, hidden = open_form(client, f"/s/{d.slug}")
    elsewhere("UPDATE reporting_period SET closed_at = :now", now=utcnow())
    answer = client.post(f"/s/{d.slug}", data={**hidden, **answers(),
                                               "service": service_id(html)})
    assert answer.status_code == 409
    assert year in answer.get_data(as_text=True)
    assert stored() == 0
    elsewhere("UPDATE reporting_period SET closed_at = NULL")
    answer = client.post(f"/s/{d.slug}", data={**hidden, **answers(),
                                               "service": service_id(html)})
    assert answer.status_code == 303
    assert stored() == 1


def test_a_change_rolled_back_never_reaches_the_copy(org, client):
    """A transaction that changes a desk and reads the catalog sees its own change; when it
    rolls back, no process may keep that change, even once the stamp reaches the same
    number through another change that commits."""
    d = desk()
    slug = d.slug
    d.name = "Loket Batal"
    db.session.flush()
    assert catalog.desk_by_slug(db.session, slug).name == "Loket Batal"
    db.session.rollback()
    elsewhere("UPDATE agency SET head_name = 'Budi'")  # the stamp moves on, committed
    html, _ = open_form(client, f"/s/{slug}")
    assert "Loket 1" in html and "Loket Batal" not in html


def test_the_catalog_sees_its_own_transactions_unsaved_changes(org):
    d = desk()
    d.active = False  # not flushed yet: as an ORM query would, the catalog flushes first
    assert catalog.desk_by_id(db.session, d.id).active is False
    db.session.rollback()
    assert catalog.desk_by_id(db.session, d.id).active is True
