"""No 5xx from what a visitor can type, friendly 500 and 503 pages in both languages, and
the health check: oversized ids, CR/LF in a redirect target, far-future periods, an
unexpected error, and the database out of reach."""

from __future__ import annotations

import pytest
from support.app import drop_everything, make_app
from support.factories import desk, make_user
from support.web import login

from survey.web.access import POLICY, PUBLIC

HUGE = "9" * 25  # beyond any 64-bit integer


@pytest.fixture
def admin(app, org, client):
    make_user(org, "admin@skm.go.id", "admin")
    login(client, "admin@skm.go.id")
    return client


def test_ids_beyond_the_integer_range_are_404_not_a_database_error(admin):
    d = desk().id
    for url in (f"/loket/{2**31}/qr.png", f"/loket/{HUGE}/poster.pdf",
                f"/admin/instansi/KEC-A/loket/{2**31}", f"/admin/pengguna/{HUGE}",
                f"/dashboard/KEC-A/loket/{2**40}?period=2024-05",
                f"/kertas/loket/{HUGE}", f"/admin/instansi/KEC-A/layanan/{2**31}"):
        assert admin.get(url).status_code == 404, url
    for url in (f"/dashboard/KEC-A/tinjau/{2**64}", f"/admin/periode/{2**31}/tutup",
                f"/loket/{2**31}/tiket"):
        assert admin.post(url).status_code in (400, 404), url
    # A 64-bit response id is a valid address (answered as "no such response").
    assert admin.post(f"/dashboard/KEC-A/tinjau/{2**40}").status_code in (302, 303, 400, 404)
    assert admin.get(f"/loket/{d}/qr.png").status_code == 200


@pytest.mark.parametrize("target", ["/%0d%0aSet-Cookie:%20x=1", "/ok%0a", "/\\evil.example",
                                    "/%09/evil.example", "/%7f"])
def test_control_characters_in_next_fall_back_to_a_safe_page(client, org, target):
    switched = client.get(f"/bahasa/en?next={target}")
    assert switched.status_code == 303 and switched.headers["Location"] == "/"
    assert "Set-Cookie: x" not in str(switched.headers)


def test_a_sign_in_with_a_crafted_next_lands_on_the_desk_page(app, org, client):
    make_user(org, "staff@kec-a.go.id", "desk_staff", ["KEC-A"])
    page = client.get("/auth/login?next=/%0d%0aX:1").get_data(as_text=True)
    assert "csrf_token" in page
    from support.web import csrf_from

    response = client.post("/auth/login?next=/%0d%0aX:1", data={
        "csrf_token": csrf_from(page), "email": "staff@kec-a.go.id",
        "password": "long enough password"})
    assert response.status_code == 302 and response.headers["Location"] == "/loket/"


def test_far_periods_are_a_clear_400(admin):
    for url in ("/dashboard/KEC-A?period=9999", "/dashboard/KEC-A?period=9999-12-01..9999-12-31",
                "/audit/ekspor/KEC-A.csv?period=9999-S2"):
        response = admin.get(url)
        assert response.status_code == 400, url
        assert "9998" in response.get_data(as_text=True)


def test_health_check(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}
    assert POLICY["health.check"] == PUBLIC


def test_an_unexpected_error_is_a_friendly_500(tmp_path):
    app = make_app(tmp_path, PROPAGATE_EXCEPTIONS=False)

    def explode():
        raise RuntimeError("a bug")

    app.add_url_rule("/boom", "boom", explode)
    app.add_url_rule("/api/v1/boom", "api_boom", explode)
    POLICY.update(boom=PUBLIC, api_boom=PUBLIC)
    try:
        client = app.test_client()
        page = client.get("/boom")
        assert page.status_code == 500
        html = page.get_data(as_text=True)
        assert "Terjadi kesalahan" in html and "a bug" not in html and 'lang="id"' in html
        client.set_cookie("lang", "en")
        assert "Something went wrong" in client.get("/boom").get_data(as_text=True)
        api = client.get("/api/v1/boom")
        assert api.status_code == 500 and api.get_json()["status"] == 500
    finally:
        POLICY.pop("boom"), POLICY.pop("api_boom")
        drop_everything(app)


def test_without_the_database_pages_say_503_and_when_to_retry(tmp_path):
    """PostgreSQL on a port where nothing listens: every page, the API and the health
    check answer 503 with Retry-After, in the visitor's language, never a bare 500."""
    app = make_app(tmp_path, SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody@127.0.0.1:1/x",
                   SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}})
    client = app.test_client()
    for url in ("/", "/s/any-desk-link-here", "/t/some-ticket-token", "/publik/KEC-A"):
        response = client.get(url)
        assert response.status_code == 503, url
        assert response.headers["Retry-After"] == "30"
        assert "Sementara tidak tersedia" in response.get_data(as_text=True)
    client.set_cookie("lang", "en")
    assert "Temporarily unavailable" in client.get("/").get_data(as_text=True)
    health = client.get("/healthz")
    assert health.status_code == 503 and health.get_json()["database"] == "unreachable"
    api = client.get("/api/v1/agencies", headers={"Authorization": "Bearer skmapi_x"})
    assert api.status_code == 503 and api.get_json()["status"] == 503
