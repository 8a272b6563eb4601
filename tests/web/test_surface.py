"""The product surface: where each role lands, the home page's desk search, the period
picker that never replaces the dashboard, the desks page for desk staff, the headline."""

from __future__ import annotations

import gzip
import re
from datetime import UTC, datetime

import pytest
from support.factories import desk, fill, make_user
from support.web import login

from survey.core.db import db
from survey.core.responses import NewResponse, record_responses


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("role, agencies, landing", [
    ("agency_manager", ["KEC-A"], "/dashboard/KEC-A"),
    ("admin", [], "/admin/"),
    ("auditor", [], "/audit/"),
    ("desk_staff", ["KEC-A"], "/loket/"),
])
def test_each_role_lands_where_its_work_is(org, client, role, agencies, landing):
    make_user(org, f"{role}@kec-a.go.id", role, agencies)
    response = login(client, f"{role}@kec-a.go.id")
    assert response.status_code == 302
    page = client.get(response.headers["Location"], follow_redirects=True)
    assert page.request.path == landing
    menu = re.search(r'<nav class="nav staff".*?</nav>', page.get_data(as_text=True), re.S)
    assert menu and 'aria-current="page"' in menu.group(0)  # the section is marked


def test_the_brand_link_of_staff_pages_leads_back_to_the_landing(org, client):
    make_user(org, "m@kec-a.go.id", "agency_manager", ["KEC-A"])
    login(client, "m@kec-a.go.id")
    page = client.get("/auth/", follow_redirects=True)
    assert page.request.path == "/dashboard/KEC-A"
    assert "Indeks Kepuasan Masyarakat (IKM)" in page.get_data(as_text=True)


def test_the_home_page_links_desks_results_and_staff_sign_in(org, client):
    org.create_agency(db.session, "PASPOR", "Kantor Imigrasi")
    org.create_desk(db.session, "PASPOR", "P1", "Loket Paspor Baru")
    db.session.commit()
    html = client.get("/").get_data(as_text=True)
    assert f'href="/s/{desk("L1").slug}"' in html  # every desk is a link to its survey
    assert 'href="/publik/KEC-A"' in html and 'href="/publik/PASPOR"' in html
    assert 'href="/auth/login"' in html and 'href="/cek-kode"' in html

    found = client.get("/?q=paspor").get_data(as_text=True)
    assert f'href="/s/{desk("P1").slug}"' in found
    assert f'href="/s/{desk("L1").slug}"' not in found
    nothing = client.get("/?q=zzz-none").get_data(as_text=True)
    assert "Tidak ada loket yang cocok dengan “zzz-none”" in nothing


def test_a_bad_period_is_explained_above_the_dashboard_which_still_shows(org, client):
    fill(org)
    make_user(org, "m@kec-a.go.id", "agency_manager", ["KEC-A"])
    login(client, "m@kec-a.go.id")
    page = client.get("/dashboard/KEC-A?period=2026-13")
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "“2026-13” bukan periode" in text_of(html)
    assert 'id="headline"' in html and 'name="period"' in html  # the page is still there
    assert "not understood" not in html  # no English message in the Indonesian page

    reversed_range = client.get("/dashboard/KEC-A?from=2024-05-31&to=2024-05-01")
    assert reversed_range.status_code == 400
    assert "berakhir sebelum dimulai" in reversed_range.get_data(as_text=True)
    half = client.get("/dashboard/KEC-A?from=2024-05-01")
    assert "Isi tanggal awal dan tanggal akhir" in half.get_data(as_text=True)

    custom = client.get("/dashboard/KEC-A?from=2024-05-01&to=2024-05-31")
    assert custom.status_code == 200
    assert "2024-05-01 – 2024-05-31" in custom.get_data(as_text=True)


def test_the_picker_offers_the_known_periods(org, client):
    fill(org)  # May 2024
    make_user(org, "m@kec-a.go.id", "agency_manager", ["KEC-A"])
    login(client, "m@kec-a.go.id")
    html = client.get("/dashboard/KEC-A?period=2024-05").get_data(as_text=True)
    options = re.findall(r'<option value="([^"]+)"', html)
    assert {"2024", "2024-S1", "2024-S2", "2024-Q2", "2024-05"} <= set(options)
    assert "2023" not in options  # nothing before the first data
    assert re.search(r'<option value="2024-05" selected>', html)


def test_the_headline_shows_the_change_and_the_trend_skips_empty_periods(org, client):
    fill(org)  # May 2024
    later = datetime(2024, 6, 10, 3, tzinfo=UTC)
    record_responses(db.session, [NewResponse(
        desk_id=desk(code).id, answers={f"U{j}": 4 for j in range(1, 10)},
        submitted_at=later, channel="qr", service_id=desk(code).services[0].id)
        for code in ("L1", "L2") for _ in range(20)])
    db.session.commit()
    make_user(org, "m@kec-a.go.id", "agency_manager", ["KEC-A"])
    login(client, "m@kec-a.go.id")
    html = client.get("/dashboard/KEC-A?period=2024-06").get_data(as_text=True)
    text = text_of(html)
    assert "dibandingkan Mei 2024" in text
    assert "signifikan" in text
    trend = html.split('id="trend"')[1]
    assert "Mei 2024" in trend and "Juni 2024" in trend
    assert "April 2024" not in trend  # no empty months before the first data


def test_desk_staff_see_qr_codes_and_print_every_poster(org, client):
    make_user(org, "s@kec-a.go.id", "desk_staff", ["KEC-A"])
    login(client, "s@kec-a.go.id")
    html = client.get("/loket/").get_data(as_text=True)
    assert f'<img src="/loket/{desk("L1").id}/qr.svg"' in html
    assert 'href="/loket/instansi/KEC-A/poster.pdf"' in html
    posters = client.get("/loket/instansi/KEC-A/poster.pdf")
    assert posters.status_code == 200 and posters.data.startswith(b"%PDF")


def test_the_citizen_form_and_its_assets_travel_gzip_compressed(org, client):
    plain = client.get("/static/app.css")
    original = plain.data
    plain.close()  # a static file's handle
    zipped = client.get("/static/app.css", headers={"Accept-Encoding": "gzip, deflate"})
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert gzip.decompress(zipped.data) == original
    assert len(zipped.data) < len(original) / 2

    form = client.get(f"/s/{desk('L1').slug}", headers={"Accept-Encoding": "gzip"})
    assert form.headers["Content-Encoding"] == "gzip"
    assert 'name="U9"' in gzip.decompress(form.data).decode()
    refused = client.get("/static/app.css", headers={"Accept-Encoding": "gzip;q=0"})
    refused.close()
    assert "Content-Encoding" not in refused.headers


def test_a_refusal_is_announced_as_an_error_and_a_success_as_a_status(org, client):
    make_user(org, "m@kec-a.go.id", "agency_manager", ["KEC-A"])
    login(client, "m@kec-a.go.id")
    page = client.get("/dashboard/KEC-A/rtl?period=2024-S1").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    refused = client.post("/dashboard/KEC-A/rtl?period=2024-S1", data={
        "csrf_token": token, "element_code": "U1", "action": ""}, follow_redirects=True)
    html = refused.get_data(as_text=True)
    assert re.search(r'<p class="alert error" role="alert">Tidak disimpan: ', html)
    saved = client.post("/dashboard/KEC-A/rtl?period=2024-S1", data={
        "csrf_token": token, "element_code": "U1", "action": "Tambah loket antrean",
        "owner": "Kepala seksi", "due_date": "2024-06-30", "status": "planned"},
        follow_redirects=True)
    assert re.search(r'<p class="flash" role="status">', saved.get_data(as_text=True))


def test_the_field_that_caused_a_period_error_is_marked(org, client):
    make_user(org, "m@kec-a.go.id", "agency_manager", ["KEC-A"])
    login(client, "m@kec-a.go.id")
    typed = client.get("/dashboard/KEC-A?period=2026-13").get_data(as_text=True)
    assert re.search(r'<select id="period" name="period" aria-invalid="true"', typed)
    assert 'id="range-from" name="from" value="' in typed
    assert not re.search(r'id="range-from"[^>]*aria-invalid', typed)
    ranged = client.get("/dashboard/KEC-A?from=2024-05-31&to=2024-05-01").get_data(
        as_text=True)
    assert re.search(r'id="range-from"[^>]*aria-invalid="true"', ranged)
    assert 'value="2024-05-31"' in ranged  # what was typed stays in the field
