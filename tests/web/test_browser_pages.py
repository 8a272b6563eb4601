"""Every page of every role in a real browser, on the demo data: axe-core finds no serious
or critical accessibility violation at phone (390 px) and laptop (1366 px) width, citizen
and public pages do not scroll sideways at 360 px, and each page leaves a full-page
screenshot in tests/artifacts/pages/ (git-ignored) for a reviewer to look through. No page
scrolls sideways at either width: wide tables scroll inside their own box.

Without Chromium or Playwright the module is skipped, unless SURVEY_REQUIRE_BROWSER=1 (CI).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from support.browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    accessibility_problems,
    require_browser,
)

require_browser()

from axe_playwright_python.sync_playwright import Axe  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402
from sqlalchemy import select  # noqa: E402
from support.live_server import gunicorn  # noqa: E402

from survey.core.db import db  # noqa: E402
from survey.core.models import Agency, Desk, Response, User  # noqa: E402
from survey.core.seed import DEMO_PASSWORD  # noqa: E402

pytestmark = pytest.mark.slow

SHOTS = ARTIFACTS / "pages"
WIDTHS = {"phone": (390, 844), "laptop": (1366, 900)}
SIDEWAYS = "document.documentElement.scrollWidth - window.innerWidth"


@dataclass(frozen=True)
class Visit:
    name: str
    path: str
    narrow: bool = False  # a citizen or public page: no sideways scrolling at 360 px
    whole: bool = False  # a grid that must show every column at laptop width


def pages_of(role: str) -> list[Visit]:
    """The pages a person in `role` works with, on the demo organisation."""
    dukcapil = db.session.scalar(select(Agency).where(Agency.code == "DUKCAPIL"))
    desk = db.session.scalar(select(Desk).where(Desk.agency_id == dukcapil.id)
                             .order_by(Desk.code))
    samsat_desk = db.session.scalar(select(Desk).join(Agency).where(Agency.code == "SAMSAT")
                                    .order_by(Desk.code))
    admin_id = db.session.scalar(select(User.id).where(User.role == "admin"))
    if role == "citizen":
        return [Visit("home", "/", True), Visit("home-search", "/?q=paspor", True),
                Visit("survey", f"/s/{desk.slug}", True),
                Visit("receipt-check", "/cek-kode", True),
                Visit("published", "/publik/DUKCAPIL", True),
                Visit("published-mpp", "/publik/MPP-HARAPAN", True),
                Visit("login", "/auth/login", True), Visit("not-found", "/no-such-page", True)]
    if role == "agency_manager":
        return [Visit("dashboard", "/dashboard/DUKCAPIL"),
                Visit("dashboard-bad-period", "/dashboard/DUKCAPIL?period=2026-13"),
                Visit("dashboard-desk", f"/dashboard/DUKCAPIL/loket/{desk.id}"),
                Visit("follow-ups", "/dashboard/DUKCAPIL/rtl"),
                Visit("review-queue", "/dashboard/DUKCAPIL/antrean/flag?status=all"),
                Visit("moderation", "/dashboard/DUKCAPIL/antrean/comment"),
                Visit("desks", "/loket/"), Visit("kiosks", f"/loket/{desk.id}/kios"),
                Visit("paper", "/kertas/"), Visit("exports", "/audit/"),
                Visit("administration", "/admin/"),
                Visit("admin-desks", "/admin/instansi/DUKCAPIL/loket"),
                Visit("admin-services", "/admin/instansi/DUKCAPIL/layanan"),
                Visit("volumes", "/admin/instansi/DUKCAPIL/volume", whole=True),
                Visit("password", "/auth/sandi")]
    if role == "admin":
        return [Visit("administration", "/admin/"), Visit("agencies", "/admin/instansi"),
                Visit("agency-form", "/admin/instansi/baru"),
                Visit("desk-form", f"/admin/instansi/DUKCAPIL/loket/{desk.id}"),
                Visit("users", "/admin/pengguna"), Visit("user-form", "/admin/pengguna/baru"),
                Visit("user-edit", f"/admin/pengguna/{admin_id}"),
                Visit("periods", "/admin/periode"), Visit("audit-log", "/audit/log"),
                Visit("mpp-dashboard", "/dashboard/MPP-HARAPAN"),
                Visit("mpp-league", "/dashboard/MPP-HARAPAN/liga"),
                Visit("volume-import", "/admin/volume/impor")]
    if role == "auditor":
        return [Visit("exports", "/audit/"), Visit("audit-log", "/audit/log"),
                Visit("dashboards", "/dashboard/")]
    assert role == "desk_staff"
    return [Visit("desks", "/loket/"), Visit("paper", "/kertas/"),
            Visit("paper-sheet", f"/kertas/loket/{samsat_desk.id}", whole=True),
            Visit("paper-import", "/kertas/impor")]


ACCOUNTS = {"agency_manager": "manager.dukcapil@demo.test", "admin": "admin@demo.test",
            "auditor": "auditor@demo.test", "desk_staff": "petugas.samsat@demo.test"}


def sign_in(page: Page, base: str, role: str) -> None:
    page.goto(f"{base}/auth/login")
    page.get_by_label("Surel").fill(ACCOUNTS[role])
    page.get_by_label("Kata sandi").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_load_state()
    assert "/auth/login" not in page.url, f"{role} could not sign in"


@pytest.fixture
def demo_server(app, ctx, runner, tmp_path):
    out = runner.invoke(args=["demo"])
    assert out.exit_code == 0, out.output
    assert db.session.scalar(select(Response.id).limit(1)) is not None
    instance = tmp_path / "server"
    instance.mkdir()
    with gunicorn(app.config["SQLALCHEMY_DATABASE_URI"], instance, workers=2,
                  LOGIN_RATE_LIMIT="1000 per minute", LOGIN_ACCOUNT_LIMIT="1000 per minute"
                  ) as base:
        yield base


def test_every_page_of_every_role_is_accessible_and_fits(demo_server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    axe = Axe()
    found: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for role in ("citizen", "agency_manager", "admin", "auditor", "desk_staff"):
            visits = pages_of(role)
            for width_name, (width, height) in WIDTHS.items():
                context = browser.new_context(viewport={"width": width, "height": height},
                                              locale="id-ID")
                page = context.new_page()
                page.set_default_timeout(20_000)
                if role != "citizen":
                    sign_in(page, demo_server, role)
                for visit in visits:
                    response = page.goto(demo_server + visit.path)
                    assert response is not None and response.status < 500, visit.path
                    page.screenshot(path=str(SHOTS / f"{role}-{visit.name}-{width_name}.png"),
                                    full_page=True)
                    found += [f"{role} {visit.path} at {width} px: {p}"
                              for p in accessibility_problems(page, axe)]
                    overflow = page.evaluate(SIDEWAYS)
                    if overflow > 0:  # wide tables scroll in their own box, not the page
                        found.append(f"{role} {visit.path} scrolls {overflow} px sideways "
                                     f"at {width} px")
                    if visit.whole and width_name == "laptop" and page.evaluate(
                            "[...document.querySelectorAll('.scroll')].some("
                            "e => e.scrollWidth > e.clientWidth)"):
                        found.append(f"{role} {visit.path}: columns cut off at {width} px")
                    if visit.narrow and width_name == "phone":
                        page.set_viewport_size({"width": 360, "height": height})
                        overflow = page.evaluate(SIDEWAYS)
                        if overflow > 0:
                            found.append(f"{role} {visit.path} scrolls {overflow} px "
                                         "sideways at 360 px")
                        page.set_viewport_size({"width": width, "height": height})
                context.close()
        browser.close()
    assert not found, "\n".join(found)


def test_the_survey_error_page_and_the_thank_you_page_are_accessible(demo_server):
    """The two citizen pages that only a submission reaches."""
    axe = Axe()
    desk = db.session.scalar(select(Desk).join(Agency).where(Agency.code == "IMIGRASI")
                             .order_by(Desk.code))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="id-ID")
        page.goto(f"{demo_server}/s/{desk.slug}")
        page.evaluate("document.getElementById('survey').noValidate = true")
        page.get_by_role("button", name="Kirim jawaban").click()
        page.wait_for_load_state()
        summary = page.get_by_role("alert").inner_text()
        assert re.search(r"Pertanyaan 1 \(", summary)  # each question named
        problems = accessibility_problems(page, axe)
        page.screenshot(path=str(SHOTS / "citizen-survey-errors-phone.png"), full_page=True)
        for fieldset in page.locator("fieldset.q").all():
            fieldset.locator("span").nth(3).click()
        if page.locator("#service").count():
            page.locator("#service").select_option(index=1)
        page.get_by_role("button", name="Kirim jawaban").click()
        page.wait_for_url(re.compile(r"/selesai$"))
        problems += accessibility_problems(page, axe)
        page.screenshot(path=str(SHOTS / "citizen-thanks-phone.png"), full_page=True)
        browser.close()
    assert not problems, "\n".join(problems)


def test_the_public_infographic_opens_from_the_public_page(demo_server):
    """A visitor of an agency's public page (and of the mall's) clicks the infographic
    links: the images load at their full size. They are kept in tests/artifacts/pages
    for a reviewer to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="id-ID")
        for code, link, size in (("DUKCAPIL", "PNG potret", [1080, 1350]),
                                 ("DUKCAPIL", "PNG persegi", [1080, 1080]),
                                 ("MPP-HARAPAN", "PNG potret", [1080, 1350])):
            page.goto(f"{demo_server}/publik/{code}")
            with page.expect_response(re.compile(r"/infografik\.png")) as image:
                page.get_by_role("link", name=link).click()
            assert image.value.status == 200, (code, link)
            page.wait_for_load_state()
            assert page.evaluate("[document.images[0].naturalWidth, "
                                 "document.images[0].naturalHeight]") == size, (code, link)
            (SHOTS / f"infographic-{code}-{size[1]}.png").write_bytes(image.value.body())
        browser.close()
