"""The agency dashboard in a real browser: a manager signs in, opens the dashboard,
changes the period, drills into a desk, and the numbers match `flask ikm report`.
Screenshots go to tests/artifacts/. Skipped without Chromium/Playwright unless
SURVEY_REQUIRE_BROWSER=1 (CI)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from support.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, require_browser

require_browser()

from playwright.sync_api import sync_playwright  # noqa: E402
from support.factories import desk, fill, make_user  # noqa: E402
from support.live_server import gunicorn  # noqa: E402

from survey.core.db import db  # noqa: E402
from survey.ikm.standards import display_decimal  # noqa: E402

pytestmark = pytest.mark.slow


def id_number(value: float) -> str:
    return str(display_decimal(value)).replace(".", ",")


def test_manager_reads_the_dashboard_in_a_browser(app, org, runner, tmp_path):
    fill(org, per_desk=40)
    org.set_volume(db.session, desk("L2"), "month", date(2024, 5, 1), 300)
    db.session.commit()
    make_user(org, "manager@kec-a.go.id", "agency_manager", ["KEC-A"])
    expected = {r["desk"]: r for r in json.loads(runner.invoke(args=[
        "ikm", "report", "--agency", "KEC-A", "--period", "2024-05", "--format", "json"]
    ).output)["results"]}
    instance = tmp_path / "server"
    instance.mkdir()
    ARTIFACTS.mkdir(exist_ok=True)
    with gunicorn(app.config["SQLALCHEMY_DATABASE_URI"], instance, workers=2) as base, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(20_000)
        page.goto(f"{base}/dashboard/KEC-A")
        assert "/auth/login" in page.url  # the dashboard needs a login
        page.get_by_label("Surel").fill("manager@kec-a.go.id")
        page.get_by_label("Kata sandi").fill("long enough password")
        page.get_by_role("button", name="Masuk").click()
        page.wait_for_url(f"{base}/dashboard/KEC-A")
        page.screenshot(path=str(ARTIFACTS / "dashboard-default.png"), full_page=True)

        page.get_by_role("combobox", name="Periode").select_option("2024-05")
        page.get_by_role("button", name="Tampilkan", exact=True).click()
        page.wait_for_url("**period=2024-05")
        headline = page.locator(".card.main .value").inner_text()
        assert headline == id_number(expected[None]["ikm_converted"])
        assert "Mei 2024" in page.inner_text("h2#headline")
        assert page.locator("svg.chart").count() >= 5
        page.screenshot(path=str(ARTIFACTS / "dashboard-2024-05.png"), full_page=True)

        page.get_by_role("link", name="Loket 2").first.click()
        page.wait_for_url(f"**/dashboard/KEC-A/loket/{desk('L2').id}?period=2024-05")
        assert page.locator(".card.main .value").inner_text() == id_number(
            expected["L2"]["ikm_converted"])
        page.screenshot(path=str(ARTIFACTS / "dashboard-desk-L2.png"), full_page=True)

        # a custom range that ends before it starts: the message, and the page stays
        page.get_by_label("Dari tanggal").fill("2024-05-31")
        page.get_by_label("Sampai tanggal").fill("2024-05-01")
        page.get_by_role("button", name="Tampilkan rentang ini").click()
        page.wait_for_url("**to=2024-05-01")
        assert "berakhir sebelum dimulai" in page.get_by_role("alert").inner_text()
        assert page.locator(".card.main .value").count() in (0, 1)
        assert page.locator("h1").inner_text().startswith("Loket 2")
        browser.close()
