"""Admin pages: who may open which page, agency scoping (another agency's objects are a
404), CSRF, and that every action stores what it says and writes its audit event. Also
the service volumes: the year grid, the CSV import (web and `flask volume import`)."""

from __future__ import annotations

from datetime import date
from io import BytesIO

import pytest
from sqlalchemy import func, select
from support.factories import SetupMark, desk, make_user
from support.web import (
    csrf_from,
    forget_request_state,
    get,
    login,
    refused_in_indonesian,
    submit,
    text,
)

from survey.core.db import db
from survey.core.errors import ValidationError
from survey.core.models import (
    Agency,
    AuditEvent,
    ChainEntry,
    Desk,
    ReportingPeriod,
    Service,
    ServiceVolume,
    User,
)
from survey.core.org import volumes

PASSWORD = "long enough password"


@pytest.fixture
def world(org):
    """KEC-A (with the child agency KEC-A1) and KEC-B, and one account per role."""
    org.create_agency(db.session, "KEC-A1", "Kelurahan A1", parent_code="KEC-A")
    org.create_desk(db.session, "KEC-A1", "X1", "Loket A1")
    org.create_agency(db.session, "KEC-B", "Kecamatan B")
    org.create_desk(db.session, "KEC-B", "L1", "Loket B1")
    org.create_service(db.session, "KEC-B", "SIM", "SIM", desk_codes=["L1"])
    db.session.commit()
    make_user(org, "admin@skm.go.id", "admin")
    make_user(org, "manager@a.go.id", "agency_manager", ["KEC-A"])
    make_user(org, "manager@b.go.id", "agency_manager", ["KEC-B"])
    make_user(org, "auditor@skm.go.id", "auditor")
    make_user(org, "staff@a.go.id", "desk_staff", ["KEC-A"])
    SetupMark.take(db.session)
    return org





def english(client) -> None:
    client.set_cookie("lang", "en")


def events(action: str | None = None) -> list[AuditEvent]:
    """The audit events the test itself caused (the fixtures' setup is audited too)."""
    query = select(AuditEvent).where(AuditEvent.id > SetupMark.audit_id).order_by(AuditEvent.id)
    if action:
        query = query.where(AuditEvent.action == action)
    db.session.expire_all()
    return list(db.session.scalars(query))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _ids() -> dict[str, int]:
    b_desk = desk(agency="KEC-B")
    return {
        "a_desk": desk(agency="KEC-A").id,
        "b_desk": b_desk.id,
        "a_service": db.session.scalar(select(Service.id).where(Service.code == "KTP")),
        "b_service": db.session.scalar(select(Service.id).where(Service.code == "SIM")),
        "user": db.session.scalar(select(User.id).where(User.email == "staff@a.go.id")),
    }


ADMIN_ONLY = ["/admin/instansi", "/admin/instansi/baru", "/admin/instansi/KEC-A/ubah",
              "/admin/pengguna", "/admin/pengguna/baru", "/admin/pengguna/{user}",
              "/admin/periode"]
MANAGER_PAGES = ["/admin/", "/admin/instansi/KEC-A/loket", "/admin/instansi/KEC-A/loket/baru",
                 "/admin/instansi/KEC-A/loket/{a_desk}", "/admin/instansi/KEC-A/layanan",
                 "/admin/instansi/KEC-A/layanan/baru",
                 "/admin/instansi/KEC-A/layanan/{a_service}",
                 "/admin/instansi/KEC-A/volume?tahun=2024", "/admin/volume/impor"]


@pytest.mark.parametrize("email, admin_only, manager", [
    ("admin@skm.go.id", 200, 200),
    ("manager@a.go.id", 403, 200),
    ("auditor@skm.go.id", 403, 403),
    ("staff@a.go.id", 403, 403),
])
def test_pages_open_for_the_right_roles_only(app, client, world, email, admin_only, manager):
    ids = _ids()
    login(client, email)
    for url in ADMIN_ONLY:
        assert get(client, url.format(**ids)).status_code == admin_only, url
    for url in MANAGER_PAGES:
        assert get(client, url.format(**ids)).status_code == manager, url


def test_anonymous_visitors_are_sent_to_sign_in(app, client, world):
    for url in ["/admin/", "/admin/instansi", "/admin/periode", "/admin/volume/impor"]:
        response = get(client, url)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


@pytest.mark.parametrize("email", ["auditor@skm.go.id", "staff@a.go.id"])
def test_posts_are_forbidden_to_roles_without_admin_access(app, client, world, email):
    ids = _ids()
    login(client, email)
    token = csrf_from(get(client, "/loket/").get_data(as_text=True))
    period = world.create_period(db.session, "2024-S1")
    SetupMark.take(db.session)
    for url in [f"/admin/instansi/KEC-A/loket/{ids['a_desk']}/status",
                f"/admin/instansi/KEC-A/loket/{ids['a_desk']}/tautan",
                f"/admin/periode/{period.id}/tutup", f"/admin/pengguna/{ids['user']}/sandi",
                "/admin/instansi/baru"]:
        forget_request_state()
        response = client.post(url, data={"csrf_token": token, "active": "0", "confirm": "y",
                                          "password": "x" * 12, "code": "NEW", "name": "N"})
        assert response.status_code == 403, url
    assert desk(agency="KEC-A").active and count(Agency) == 3
    assert events() == [] or {e.action for e in events()} <= {"login"}


def test_a_manager_gets_404_for_another_agencys_objects(app, client, world):
    ids = _ids()
    login(client, "manager@a.go.id")
    for url in ["/admin/instansi/KEC-B/loket", "/admin/instansi/KEC-B/layanan",
                "/admin/instansi/KEC-B/volume", "/admin/instansi/KEC-B/loket/baru",
                f"/admin/instansi/KEC-B/loket/{ids['b_desk']}",
                f"/admin/instansi/KEC-A/loket/{ids['b_desk']}",
                f"/admin/instansi/KEC-A/layanan/{ids['b_service']}",
                f"/admin/instansi/KEC-B/layanan/{ids['b_service']}",
                "/admin/instansi/NOPE/loket", "/admin/instansi/KEC-A/loket/99999"]:
        assert get(client, url).status_code == 404, url
    # ... also when posting, with a valid token: nothing changes.
    response = submit(client, f"/admin/instansi/KEC-A/loket/{ids['b_desk']}/status",
                      {"active": "0"}, form_url=f"/admin/instansi/KEC-A/loket/{ids['a_desk']}")
    assert response.status_code == 404
    response = submit(client, f"/admin/instansi/KEC-B/loket/{ids['b_desk']}/tautan",
                      {"confirm": "y"}, form_url=f"/admin/instansi/KEC-A/loket/{ids['a_desk']}")
    assert response.status_code == 404
    b = desk(agency="KEC-B")
    db.session.refresh(b)
    assert b.active and not events("desk_deactivated") and not events("desk_slug_regenerated")
    # The agencies below their own are theirs to manage.
    assert get(client, "/admin/instansi/KEC-A1/loket").status_code == 200
    home = text(get(client, "/admin/"))
    assert "KEC-A1" in home and "KEC-B" not in home


def test_forms_need_a_csrf_token(app, client, world):
    login(client, "admin@skm.go.id")
    forget_request_state()
    response = client.post("/admin/instansi/baru", data={"code": "KEC-C", "name": "C",
                                                          "timezone": "Asia/Jakarta"})
    assert response.status_code == 400
    forget_request_state()
    upload = client.post("/admin/volume/impor", data={
        "file": (BytesIO(b"agency,desk,month,count\nKEC-A,L1,2024-06,5\n"), "v.csv")})
    assert upload.status_code == 400
    assert count(Agency) == 3 and count(ServiceVolume) == 1


def test_every_endpoint_of_admin_and_paper_has_a_policy(app):
    from survey.web.access import POLICY

    endpoints = {r.endpoint for r in app.url_map.iter_rules()
                 if r.endpoint.startswith(("admin.", "paper."))}
    assert len(endpoints) >= 20
    assert endpoints <= POLICY.keys()


# --- agencies ------------------------------------------------------------------------------


def test_admin_creates_and_edits_agencies(app, client, world):
    english(client)
    login(client, "admin@skm.go.id")
    created = submit(client, "/admin/instansi/baru", {
        "code": "KEC-C", "name": "Kecamatan C", "parent": "KEC-A", "timezone": "Asia/Makassar",
        "head_name": "Dra. Siti", "head_nip": "19800101 200501 2 001"})
    assert created.status_code == 303
    agency = db.session.scalar(select(Agency).where(Agency.code == "KEC-C"))
    assert (agency.parent.code, agency.timezone, agency.head_name, agency.head_nip) == (
        "KEC-A", "Asia/Makassar", "Dra. Siti", "198001012005012001")
    [event] = events("agency_created")
    assert event.target == "KEC-C" and event.actor == "admin@skm.go.id"
    # The list shows the tree: KEC-C nested under KEC-A.
    tree = text(get(client, "/admin/instansi"))
    a, nested, b = tree.index("(KEC-A ·"), tree.index("(KEC-C ·"), tree.index("(KEC-B ·")
    assert a < nested < b and tree[a:nested].count("<ul>") == 1

    bad = submit(client, "/admin/instansi/baru", {"code": "bad code", "name": "X",
                                                  "timezone": "Asia/Jakarta",
                                                  "head_nip": "123"})
    page = text(bad)
    assert bad.status_code == 422 and "Use 1 to 40 letters" in page
    assert "The NIP has 18 digits." in page
    duplicate = submit(client, "/admin/instansi/baru", {"code": "KEC-A", "name": "X",
                                                        "timezone": "Asia/Jakarta"})
    assert duplicate.status_code == 422 and "Agency KEC-A already exists." in text(duplicate)
    assert count(Agency) == 4

    edited = submit(client, "/admin/instansi/KEC-C/ubah", {
        "name": "Kecamatan C Baru", "parent": "", "timezone": "Asia/Jayapura",
        "head_name": "", "head_nip": ""})
    assert edited.status_code == 303
    db.session.refresh(agency)
    assert (agency.name, agency.parent_id, agency.timezone, agency.head_nip) == (
        "Kecamatan C Baru", None, "Asia/Jayapura", None)
    [update] = events("agency_updated")
    assert update.details["name"] == ["Kecamatan C", "Kecamatan C Baru"]
    assert update.details["parent"] == ["KEC-A", None]


def test_an_agency_cannot_be_placed_below_itself(app, client, world):
    login(client, "admin@skm.go.id")
    # The form does not even offer the agency itself or its descendants as parent ...
    page = text(get(client, "/admin/instansi/KEC-A/ubah"))
    assert 'value="KEC-A1"' not in page and 'value="KEC-B"' in page
    refused = submit(client, "/admin/instansi/KEC-A/ubah", {
        "name": "Kecamatan A", "parent": "KEC-A1", "timezone": "Asia/Jakarta"})
    assert refused.status_code == 422
    # ... and the service refuses a cycle whoever calls it.
    a = world.get_agency(db.session, "KEC-A")
    with pytest.raises(ValidationError, match="KEC-A1 lies below KEC-A"):
        world.update_agency(db.session, a, "Kecamatan A", "KEC-A1", "Asia/Jakarta", None, None)
    db.session.rollback()
    with pytest.raises(ValidationError, match="its own parent"):
        world.update_agency(db.session, a, "Kecamatan A", "KEC-A", "Asia/Jakarta", None, None)
    db.session.rollback()
    assert world.get_agency(db.session, "KEC-A").parent_id is None
    assert world.get_agency(db.session, "KEC-A1").parent.code == "KEC-A"


# --- desks ---------------------------------------------------------------------------------


def test_manager_creates_and_edits_a_desk(app, client, world):
    english(client)
    login(client, "manager@a.go.id")
    ids = _ids()
    created = submit(client, "/admin/instansi/KEC-A/loket/baru", {
        "code": "L3", "name": "Loket 3", "location": "Lantai 2",
        "questionnaire": "kepmenpan-25-2004", "services": [str(ids["a_service"])]})
    assert created.status_code == 303
    new = desk("L3", "KEC-A")
    assert (new.name, new.location, new.questionnaire.code) == ("Loket 3", "Lantai 2",
                                                                 "kepmenpan-25-2004")
    assert [s.code for s in new.services] == ["KTP"]
    [event] = events("desk_created")
    assert event.target == "KEC-A/L3" and event.details["services"] == ["KTP"]
    assert event.actor == "manager@a.go.id"

    duplicate = submit(client, "/admin/instansi/KEC-A/loket/baru", {
        "code": "L3", "name": "Again", "questionnaire": "permenpan-14-2017"})
    assert duplicate.status_code == 422 and "already has a desk L3" in text(duplicate)
    # A service of another agency cannot be assigned (it is not even a choice).
    foreign = submit(client, f"/admin/instansi/KEC-A/loket/{new.id}", {
        "name": "Loket 3", "services": [str(ids["b_service"])]})
    assert foreign.status_code == 422

    edited = submit(client, f"/admin/instansi/KEC-A/loket/{new.id}", {
        "name": "Loket Tiga", "location": ""})
    assert edited.status_code == 303
    db.session.refresh(new)
    assert (new.name, new.location, new.services) == ("Loket Tiga", None, [])
    [update] = events("desk_updated")
    assert update.details == {"name": "Loket Tiga", "location": None, "services": []}
    listing = text(get(client, "/admin/instansi/KEC-A/loket"))
    assert "Loket Tiga" in listing and "Loket 1" in listing


def test_closing_a_desk_makes_its_survey_answer_410(app, client, world):
    login(client, "manager@a.go.id")
    d = desk(agency="KEC-A")
    url = f"/admin/instansi/KEC-A/loket/{d.id}"
    assert get(client, f"/s/{d.slug}").status_code == 200
    closed = submit(client, url + "/status", {"active": "0"}, form_url=url)
    assert closed.status_code == 303
    db.session.refresh(d)
    assert not d.active
    assert get(client, f"/s/{d.slug}").status_code == 410
    [event] = events("desk_deactivated")
    assert event.target == "KEC-A/L1" and event.user_id is not None
    reopened = submit(client, url + "/status", {"active": "1"}, form_url=url)
    assert reopened.status_code == 303
    db.session.refresh(d)
    assert d.active and get(client, f"/s/{d.slug}").status_code == 200
    assert len(events("desk_activated")) == 1


def test_a_new_slug_changes_the_survey_link_and_kills_the_old_one(app, client, world):
    english(client)
    login(client, "admin@skm.go.id")
    d = desk(agency="KEC-A")
    old = d.slug
    url = f"/admin/instansi/KEC-A/loket/{d.id}"
    page = text(get(client, url))
    assert "printed QR code and poster of this desk stop working" in page
    unconfirmed = submit(client, url + "/tautan", {}, form_url=url)
    assert unconfirmed.status_code == 303
    db.session.refresh(d)
    assert d.slug == old and not events("desk_slug_regenerated")
    done = submit(client, url + "/tautan", {"confirm": "y"}, form_url=url)
    assert done.status_code == 303
    db.session.refresh(d)
    assert d.slug != old and len(d.slug) >= 16
    assert get(client, f"/s/{old}").status_code == 404
    assert get(client, f"/s/{d.slug}").status_code == 200
    assert d.slug in text(get(client, url))
    [event] = events("desk_slug_regenerated")
    assert old not in str(event.details) and event.target == "KEC-A/L1"


# --- services ------------------------------------------------------------------------------


def test_services_are_created_and_edited(app, client, world):
    login(client, "manager@a.go.id")
    l1, l2 = desk("L1", "KEC-A"), desk("L2", "KEC-A")
    created = submit(client, "/admin/instansi/KEC-A/layanan/baru", {
        "code": "AKTA", "name_id": "Akta Kelahiran", "name_en": "Birth certificate",
        "desks": [str(l2.id)]})  # "active" left unticked
    assert created.status_code == 303
    service = db.session.scalar(select(Service).where(Service.code == "AKTA"))
    assert (service.name_id, service.name_en, service.active) == ("Akta Kelahiran",
                                                                  "Birth certificate", False)
    assert [d.code for d in service.desks] == ["L2"]
    [event] = events("service_created")
    assert event.target == "KEC-A/AKTA" and event.details["desks"] == ["L2"]
    edited = submit(client, f"/admin/instansi/KEC-A/layanan/{service.id}", {
        "name_id": "Akta Lahir", "name_en": "", "active": "y", "desks": [str(l1.id)]})
    assert edited.status_code == 303
    db.session.refresh(service)
    assert (service.name_id, service.name_en, service.active) == ("Akta Lahir", None, True)
    assert [d.code for d in service.desks] == ["L1"]
    [update] = events("service_updated")
    assert update.details["desks"] == ["L1"] and update.details["active"] is True
    assert "Akta Lahir" in text(get(client, "/admin/instansi/KEC-A/layanan"))


# --- users ---------------------------------------------------------------------------------


def test_admin_creates_edits_and_resets_users(app, client, world):
    english(client)
    login(client, "admin@skm.go.id")
    short = submit(client, "/admin/pengguna/baru", {
        "email": "new@a.go.id", "role": "desk_staff", "agencies": ["KEC-A"],
        "password": "too short"})
    assert short.status_code == 422 and "At least 10 characters." in text(short)
    no_agency = submit(client, "/admin/pengguna/baru", {
        "email": "new@a.go.id", "role": "agency_manager", "password": "x" * 12})
    assert no_agency.status_code == 422 and "need at least one agency" in text(no_agency)
    assert db.session.scalar(select(User).where(User.email == "new@a.go.id")) is None

    created = submit(client, "/admin/pengguna/baru", {
        "email": "New@A.go.id", "name": "Budi", "role": "desk_staff", "agencies": ["KEC-A"],
        "password": "first password!"})
    assert created.status_code == 303
    user = db.session.scalar(select(User).where(User.email == "new@a.go.id"))
    assert (user.name, user.role, [a.code for a in user.agencies]) == ("Budi", "desk_staff",
                                                                       ["KEC-A"])
    [event] = events("user_created")
    assert event.target == "new@a.go.id" and "password" not in str(event.details)
    duplicate = submit(client, "/admin/pengguna/baru", {
        "email": "new@a.go.id", "role": "auditor", "password": "x" * 12})
    assert duplicate.status_code == 422 and "already exists" in text(duplicate)

    edited = submit(client, f"/admin/pengguna/{user.id}", {
        "name": "Budi S", "role": "agency_manager", "agencies": ["KEC-A", "KEC-B"]})
    assert edited.status_code == 303  # "active" unticked: the account is deactivated
    db.session.refresh(user)
    assert (user.role, user.active, [a.code for a in user.agencies]) == (
        "agency_manager", False, ["KEC-A", "KEC-B"])
    [update] = events("user_updated")
    assert update.details["role"] == ["desk_staff", "agency_manager"]
    assert update.details["active"] == [True, False]

    reset = submit(client, f"/admin/pengguna/{user.id}/sandi", {"password": "second password"},
                   form_url=f"/admin/pengguna/{user.id}")
    assert reset.status_code == 303
    assert len(events("user_password_reset")) == 1
    too_short = submit(client, f"/admin/pengguna/{user.id}/sandi", {"password": "short"},
                       form_url=f"/admin/pengguna/{user.id}")
    assert too_short.status_code == 422 and len(events("user_password_reset")) == 1
    submit(client, f"/admin/pengguna/{user.id}", {"role": "agency_manager", "active": "y",
                                                  "agencies": ["KEC-A"]})

    other = app.test_client()
    assert login(other, "new@a.go.id", "first password!").status_code == 401
    assert login(other, "new@a.go.id", "second password").status_code == 302
    assert "new@a.go.id" in text(get(client, "/admin/pengguna"))


def test_an_administrator_cannot_lock_themselves_out(app, client, world):
    english(client)
    login(client, "admin@skm.go.id")
    me = db.session.scalar(select(User).where(User.email == "admin@skm.go.id"))
    refused = submit(client, f"/admin/pengguna/{me.id}", {"role": "auditor", "active": "y"})
    assert refused.status_code == 422 and "your own administrator role" in text(refused)
    refused = submit(client, f"/admin/pengguna/{me.id}", {"role": "admin"})  # inactive
    assert refused.status_code == 422
    db.session.refresh(me)
    assert me.role == "admin" and me.active and not events("user_updated")


# --- periods -------------------------------------------------------------------------------


def test_periods_are_added_closed_and_reopened(app, client, world):
    english(client)
    login(client, "admin@skm.go.id")
    added = submit(client, "/admin/periode", {"key": "2024-s1"})
    assert added.status_code == 303
    period = db.session.scalar(select(ReportingPeriod))
    assert period.key == "2024-S1" and period.closed_at is None
    assert [e.target for e in events("period_created")] == ["2024-S1"]
    bad = submit(client, "/admin/periode", {"key": "2024-S3"})
    assert bad.status_code == 422 and "Use a period key such as" in text(bad)
    again = submit(client, "/admin/periode", {"key": "2024-S1"})
    assert again.status_code == 422 and "Period 2024-S1 already exists." in text(again)
    assert count(ReportingPeriod) == 1

    closed = submit(client, f"/admin/periode/{period.id}/tutup", {}, form_url="/admin/periode")
    assert closed.status_code == 303
    db.session.refresh(period)
    assert period.closed_at is not None
    assert [e.target for e in events("period_closed")] == ["2024-S1"]
    assert "Reopen" in text(get(client, "/admin/periode"))
    reopened = submit(client, f"/admin/periode/{period.id}/buka",
                      {"reason": "late paper questionnaires"}, form_url="/admin/periode")
    assert reopened.status_code == 303
    db.session.refresh(period)
    assert period.closed_at is None and len(events("period_reopened")) == 1


def test_a_period_that_has_not_ended_cannot_be_closed(app, client, world):
    english(client)
    login(client, "admin@skm.go.id")
    future = f"{date.today().year + 1}"
    submit(client, "/admin/periode", {"key": future})
    period = db.session.scalar(select(ReportingPeriod))
    response = submit(client, f"/admin/periode/{period.id}/tutup", {},
                      form_url="/admin/periode")
    assert response.status_code == 303
    db.session.refresh(period)
    assert period.closed_at is None and not events("period_closed")
    assert "close it after it has ended" in text(get(client, "/admin/periode"))


# --- service volumes: the grid ---------------------------------------------------------------


def _volumes() -> dict[tuple[str, str], int]:
    db.session.expire_all()
    rows = db.session.execute(select(Agency.code, Desk.code, ServiceVolume.period_start,
                                     ServiceVolume.count)
                              .join(Desk, ServiceVolume.desk_id == Desk.id)
                              .join(Agency, Desk.agency_id == Agency.id)
                              .where(ServiceVolume.granularity == "month"))
    return {(f"{a}/{d}", f"{start:%Y-%m}"): n for a, d, start, n in rows}


def test_the_volume_grid_shows_saves_and_clears_values(app, client, world):
    english(client)
    login(client, "manager@a.go.id")
    l1, l2 = desk("L1", "KEC-A"), desk("L2", "KEC-A")
    url = "/admin/instansi/KEC-A/volume?tahun=2024"
    page = text(get(client, url))
    assert f'id="v-{l1.id}-5" name="v-{l1.id}-5" type="number" min="0" step="1" ' \
           'inputmode="numeric" value="450"' in page
    assert f'<label for="v-{l2.id}-1" class="sr-only">L2 Loket 2, January 2024</label>' in page
    saved = submit(client, url, {f"v-{l1.id}-5": "", f"v-{l1.id}-6": "500",
                                 f"v-{l2.id}-1": "0"})
    assert saved.status_code == 303
    assert _volumes() == {("KEC-A/L1", "2024-06"): 500, ("KEC-A/L2", "2024-01"): 0}
    [event] = events("volume_set")
    assert event.target == "KEC-A 2024"
    assert {(c["desk"], c["month"], c["old"], c["new"]) for c in event.details["changes"]} == {
        ("L1", "2024-05", 450, None), ("L1", "2024-06", None, 500), ("L2", "2024-01", None, 0)}

    bad = submit(client, url, {f"v-{l1.id}-6": "abc", f"v-{l2.id}-2": "7"})
    page = text(bad)
    assert bad.status_code == 422
    assert "Enter a whole number (0 or more) or leave it empty." in page
    assert 'value="abc"' in page and 'value="7"' in page  # what was typed stays
    assert _volumes() == {("KEC-A/L1", "2024-06"): 500, ("KEC-A/L2", "2024-01"): 0}
    unchanged = submit(client, url, {f"v-{l1.id}-6": "500", f"v-{l2.id}-1": "0"})
    assert unchanged.status_code == 303 and len(events("volume_set")) == 1


# --- service volumes: CSV import --------------------------------------------------------------


def upload(client, data: bytes, url: str = "/admin/volume/impor", name: str = "v.csv"):
    page = get(client, url)
    forget_request_state()
    return client.post(url, data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                  "file": (BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_a_good_volume_file_is_imported(app, client, world):
    login(client, "admin@skm.go.id")
    data = ("\ufeffagency,desk,month,count,note\r\n"
            "KEC-A,L1,2024-05,1200,replaces 450\r\n"
            "\r\n"
            "KEC-A,L2,2024-06,0,\r\n"
            "KEC-B,L1,2024-06, 75 ,\r\n").encode()
    response = upload(client, data)
    assert response.status_code == 303
    assert _volumes() == {("KEC-A/L1", "2024-05"): 1200, ("KEC-A/L2", "2024-06"): 0,
                          ("KEC-B/L1", "2024-06"): 75}
    [event] = events("volumes_imported")
    assert event.details == {"rows": 3, "file": "v.csv"} and event.target == "KEC-A,KEC-B"
    assert "3 data jumlah layanan diimpor." in text(get(client, "/admin/volume/impor"))


GOOD = "KEC-A,L2,2024-05,10\n"
BAD_VOLUME_FILES = [
    ("agency,desk,month,count\n" + GOOD + "KEC-A,L1,2024-05,abc\n",
     "line 3: count 'abc' is not a whole number"),
    ("agency,desk,month,count\n" + GOOD + "KEC-A,L1,2024-05,1.5\n",
     "line 3: count '1.5' is not a whole number"),
    ("agency,desk,month,count\n" + GOOD + "KEC-A,L1,2024-05,-5\n",
     "line 3: count '-5' must not be negative"),
    ("agency,desk,month\n" + "KEC-A,L2,2024-05\n",
     "line 1: the header lacks the column(s) count (expected agency,desk,month,count)"),
    ("KEC-A,L2,2024-05,10\n", "line 1: the header lacks the column(s) agency, desk, month, "
     "count"),
    ("agency,desk,month,count\n" + GOOD + "NOPE,L1,2024-05,1\n",
     "line 3: unknown agency 'NOPE'"),
    ("agency,desk,month,count\n" + GOOD + "KEC-A,L9,2024-05,1\n",
     "line 3: agency KEC-A has no desk 'L9'"),
    ("agency,desk,month,count\n" + GOOD + "KEC-A,L1,2024-13,1\n",
     "line 3: month '2024-13' must look like 2024-05"),
    ("agency,desk,month,count\n" + GOOD + "KEC-A,L1,May 2024,1\n",
     "line 3: month 'May 2024' must look like 2024-05"),
    ("agency,desk,month,count\n" + GOOD + "\n" + GOOD,
     "line 4: KEC-A/L2 2024-05 was already given on line 2"),
    ("agency,desk,month,count\n" + GOOD + "KEC-A,L1,2024-05\n",
     "line 3: expected 4 fields like the header, found 3"),
    ("agency,desk,month,count\n" + GOOD + ",L1,2024-05,4\n", "line 3: agency is empty"),
    ("agency,desk,month,count\n\n", "the file has no data rows after the header"),
    ("", "the file is empty"),
    ("agency,desk,month,count\n" + GOOD + 'KEC-A,"L1,2024-05,4\n',
     "line 3: unexpected end of data"),
]


@pytest.mark.parametrize("content, message", BAD_VOLUME_FILES)
def test_a_bad_volume_file_names_the_line_and_stores_nothing(app, client, world, content,
                                                             message):
    """The core says what is wrong in English (the command line prints it); the page says
    it in Indonesian with the line."""
    with pytest.raises(ValidationError) as refusal:
        volumes.parse_csv(db.session, content.encode(), None)
    assert message in str(refusal.value)
    login(client, "admin@skm.go.id")
    before = _volumes()
    response = upload(client, content.encode())
    assert response.status_code == 422
    refused_in_indonesian(text(response), message)
    assert _volumes() == before and not events("volumes_imported")


def test_a_file_that_is_not_utf8_is_refused(app, client, world):
    login(client, "admin@skm.go.id")
    response = upload(client, "agency,desk,month,count\nKEC-A,L1,2024-05,5 ‰\n".encode("cp1252"))
    assert response.status_code == 422 and ("Berkas bukan teks UTF-8. Di aplikasi lembar "
                                            "kerja, simpan sebagai “CSV UTF-8”.") in text(
        response)


def test_a_manager_imports_only_their_agencies_desks(app, client, world):
    login(client, "manager@a.go.id")
    refused = upload(client, b"agency,desk,month,count\nKEC-A1,X1,2024-05,3\n"
                             b"KEC-B,L1,2024-05,9\n")
    assert refused.status_code == 422
    assert "Baris 3: Tidak ada instansi “KEC-B” di antara instansi Anda." in text(refused)
    assert _volumes() == {("KEC-A/L1", "2024-05"): 450}
    accepted = upload(client, b"agency,desk,month,count\nKEC-A1,X1,2024-05,3\n")
    assert accepted.status_code == 303
    assert _volumes()[("KEC-A1/X1", "2024-05")] == 3


def test_an_upload_larger_than_the_default_body_limit_is_accepted(app, client, world):
    login(client, "admin@skm.go.id")
    padding = "x" * 2000
    rows = "".join(f"KEC-A,L1,{2000 + y}-{m:02d},{y * m},{padding}\n"
                   for y in range(3) for m in range(1, 13))
    data = ("agency,desk,month,count,note\n" + rows).encode()
    assert len(data) > 64 * 1024
    response = upload(client, data)
    assert response.status_code == 303
    assert _volumes()[("KEC-A/L1", "2002-12")] == 24


def test_the_volume_import_command(app, runner, world, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("agency,desk,month,count\nKEC-A,L2,2024-07,321\n", encoding="utf-8")
    result = runner.invoke(args=["volume", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "Imported 1 monthly volumes" in result.output
    assert _volumes()[("KEC-A/L2", "2024-07")] == 321
    [event] = events("volumes_imported")
    assert event.actor == "cli" and event.details["file"] == "good.csv"

    bad = tmp_path / "bad.csv"
    bad.write_text("agency,desk,month,count\nKEC-A,L2,2024-08,5\nKEC-A,L1,2024-08,abc\n",
                   encoding="utf-8")
    result = runner.invoke(args=["volume", "import", str(bad)])
    assert result.exit_code == 1
    assert "line 3: count 'abc' is not a whole number" in result.output
    assert ("KEC-A/L2", "2024-08") not in _volumes()
    assert runner.invoke(args=["volume", "import", str(tmp_path / "nope.csv")]).exit_code != 0


def test_audit_events_extend_the_chain(app, client, world):
    login(client, "admin@skm.go.id")
    before = count(ChainEntry)
    submit(client, "/admin/periode", {"key": "2023"})
    assert count(ChainEntry) == before + 1
