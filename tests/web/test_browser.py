"""The citizen survey in a real browser (Debian's headless Chromium driven by Playwright)
against a real server (gunicorn on the test database): the desk's QR code leads to the
form, which works by mouse, by keyboard alone, in both languages, at 320 px, within its
page-weight budget and without any third-party request (the kiosk app has its own
browser tests in test_browser_kiosk.py).

Screenshots of each step go to tests/artifacts/ (git-ignored), with the measured page
weight in page-weight.json. Without Chromium, zbarimg or Playwright the module is skipped,
unless SURVEY_REQUIRE_BROWSER=1 (CI), which makes a missing tool a failure.
"""

from __future__ import annotations

import json
import re
import subprocess
from urllib.parse import urlsplit

import pytest
from support.browser import ARTIFACTS, require_browser

require_browser("zbarimg")

from playwright.sync_api import Page  # noqa: E402
from sqlalchemy import select  # noqa: E402
from support.factories import desk, receipt_of  # noqa: E402
from support.live_server import gunicorn  # noqa: E402

from survey.core import qr  # noqa: E402
from survey.core.db import db  # noqa: E402
from survey.core.models import Element, Response  # noqa: E402
from survey.web.urls import survey_url  # noqa: E402

pytestmark = pytest.mark.slow

PAGE_BUDGET = 30 * 1024  # bytes on the wire for the form page, everything included
SCORES = [4, 3, 4, 2, 4, 3, 4, 4, 1]  # the answers the citizen gives, U1..U9
RECEIPT = re.compile(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}")


@pytest.fixture
def server(app, org, tmp_path):
    """gunicorn on the test database (KEC-A, desks L1 and L2, service KTP), with no
    minimum fill time so that a fast test is not flagged as a bot."""
    instance = tmp_path / "server"
    instance.mkdir()
    with gunicorn(app.config["SQLALCHEMY_DATABASE_URI"], instance, workers=2,
                  SURVEY_MIN_FILL_SECONDS="0") as base:
        yield base


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 412, "height": 915}, locale="id-ID")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def labels(code: str, locale: str) -> list[str]:
    """The four answer texts of a question on the desks' questionnaire (PermenPAN-RB 14/2017;
    the 2004 one has its own U1..U14)."""
    return next(e for e in desk("L1").questionnaire.elements if e.code == code).labels(locale)


def choose(page: Page, number: int, score: int, locale: str = "id") -> None:
    """Click the visible answer text of question `number`, as a citizen taps it."""
    question = page.locator(f"#q-U{number}")
    label = labels(f"U{number}", locale)[score - 1]
    question.get_by_text(label, exact=True).click()
    assert question.get_by_label(label, exact=True).is_checked()


def answer_by_clicking(page: Page, locale: str = "id") -> None:
    for number, score in enumerate(SCORES, start=1):
        choose(page, number, score, locale)


def stored() -> list[Response]:
    """The responses the server committed (a new snapshot for this test's session)."""
    db.session.rollback()
    return list(db.session.scalars(select(Response).order_by(Response.id)))


def assert_stored(receipt: str, *, scores=SCORES, channel: str = "qr", comment=None) -> None:
    """Exactly one response, with these answers, the service chosen, no flags, and the
    receipt the citizen saw."""
    responses = stored()
    assert len(responses) == 1
    response = responses[0]
    codes = dict(db.session.execute(select(Element.id, Element.code)).all())
    assert {codes[a.element_id]: a.score for a in response.answers} == {
        f"U{i}": s for i, s in enumerate(scores, start=1)}
    assert (response.channel, response.flags, response.comment) == (channel, "", comment)
    assert response.service.code == "KTP"
    assert receipt == receipt_of(response.id)


def receipt_on(page: Page) -> str:
    page.wait_for_url(re.compile(r"/selesai$"))  # the receipt is never in the address
    receipt = page.locator("#receipt").inner_text()
    assert RECEIPT.fullmatch(receipt)
    return receipt


def test_scanning_the_desk_qr_code_leads_to_the_form_and_a_stored_response(
        app, server, page, tmp_path, monkeypatch):
    d = desk("L1")
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", server)
    png, mimetype = qr.image(survey_url(d), "png")
    assert mimetype == "image/png"
    (tmp_path / "qr.png").write_bytes(png)
    decoded = subprocess.run(["zbarimg", "-q", "--raw", str(tmp_path / "qr.png")],
                             capture_output=True, text=True, check=True, timeout=30)
    url = decoded.stdout.strip()
    assert url == f"{server}/s/{d.slug}"

    page.goto(url)
    assert page.locator("html").get_attribute("lang") == "id"
    assert page.get_by_role("heading", level=1).inner_text() == "Loket 1"
    assert page.locator("fieldset.q").count() == 9
    shot(page, "form-id")
    answer_by_clicking(page, "id")
    page.get_by_label("Layanan yang Anda terima").select_option(label="KTP-el")
    page.get_by_role("button", name="Kirim jawaban").click()

    receipt = receipt_on(page)
    assert page.get_by_role("heading", level=1).inner_text() == "Terima kasih!"
    assert "Kode tanda terima" in page.inner_text("main")
    assert "SP4N-LAPOR!" in page.inner_text("main")  # one answer was 1: point to LAPOR
    shot(page, "thanks")
    assert_stored(receipt)


def test_the_language_switch_gives_the_english_form(server, page):
    page.goto(f"{server}/s/{desk('L1').slug}")
    page.get_by_role("navigation", name="Bahasa").get_by_role("link", name="English").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("navigation", name="Language").get_by_text(
        "English").get_attribute("aria-current") == "true"
    text = page.inner_text("main")
    assert "Nine short questions about the service you just received." in text
    assert "How well do the service requirements match" in text
    assert "Bagaimana pendapat" not in text
    shot(page, "form-en")
    answer_by_clicking(page, "en")
    page.get_by_label("Service you received").select_option(label="ID card")
    page.get_by_label("Suggestion (optional)").fill("Quick service, call me on 081234567890")
    page.get_by_role("button", name="Send answers").click()

    receipt = receipt_on(page)
    assert page.get_by_role("heading", level=1).inner_text() == "Thank you!"
    main = page.inner_text("main")
    assert "Receipt code" in main and "numbers that looked like an ID or phone number" in main
    shot(page, "thanks-en")
    assert_stored(receipt, comment="Quick service, call me on ************")


def focused(page: Page) -> dict:
    return page.evaluate("""() => { const e = document.activeElement;
        return {tag: e.tagName.toLowerCase(), name: e.getAttribute('name') || '',
                type: e.type || '', text: (e.innerText || '').trim(), value: e.value,
                outline: e.nextElementSibling ?
                    getComputedStyle(e.nextElementSibling).outlineStyle : ''}; }""")


def test_the_form_works_with_the_keyboard_alone(server, page):
    page.goto(f"{server}/s/{desk('L1').slug}")
    # Every control is reachable with Tab, one stop per question, the honeypot never.
    stops = []
    for _ in range(40):
        page.keyboard.press("Tab")
        stop = focused(page)
        stops.append(stop["name"] or stop["text"])
        if stop["tag"] == "button":
            break
    assert stops[-1] == "Kirim jawaban"
    controls = [s for s in stops if s in {f"U{i}" for i in range(1, 10)} | {
        "service", "sex", "age", "education", "occupation", "comment"}]
    assert controls == [f"U{i}" for i in range(1, 10)] + [
        "service", "sex", "age", "education", "occupation", "comment"]
    assert "website" not in stops

    page.reload()
    page.keyboard.press("Tab")
    while focused(page)["name"] != "U1":
        page.keyboard.press("Tab")
    for number, score in enumerate(SCORES, start=1):
        stop = focused(page)
        assert (stop["name"], stop["value"]) == (f"U{number}", "1")  # enters at the first
        assert stop["outline"] == "solid"  # the focused answer is visibly marked
        for _ in range(score - 1):
            page.keyboard.press("ArrowDown")  # moves to the next answer and chooses it
        if score == 1:
            page.keyboard.press("Space")
        assert page.locator(f"input[name=U{number}]:checked").get_attribute("value") == str(
            score)
        page.keyboard.press("Tab")
    assert focused(page)["name"] == "service"
    page.keyboard.press("ArrowDown")  # "Pilih…" -> KTP-el
    assert page.get_by_label("Layanan yang Anda terima").input_value() != ""
    for name in ("sex", "age", "education", "occupation"):
        page.keyboard.press("Tab")
        assert focused(page)["name"] == name
    page.keyboard.press("ArrowDown")  # occupation: the first choice after "not stated"
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "comment"
    page.keyboard.type("Cepat dan ramah.")
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "Kirim jawaban"
    page.keyboard.press("Enter")

    receipt = receipt_on(page)
    assert_stored(receipt, comment="Cepat dan ramah.")
    assert stored()[0].occupation == "PNS"


def test_progress_updates_and_a_double_click_sends_once(server, page):
    posts = []
    page.on("request", lambda request: request.method == "POST" and posts.append(request.url))
    page.goto(f"{server}/s/{desk('L1').slug}")
    progress = page.locator("#progress")
    assert progress.is_visible()  # hidden without JavaScript, shown by survey.js
    assert progress.inner_text().strip() == "0 dari 9 terjawab"
    for number, score in enumerate(SCORES, start=1):
        choose(page, number, score)
        assert progress.inner_text().strip() == f"{number} dari 9 terjawab"
        assert progress.locator("progress").evaluate("p => p.value") == number
    choose(page, 1, 3)  # changing an answer does not count twice
    assert progress.inner_text().strip() == "9 dari 9 terjawab"
    page.get_by_label("Layanan yang Anda terima").select_option(label="KTP-el")

    page.get_by_role("button", name="Kirim jawaban").dblclick()
    receipt = receipt_on(page)
    assert len(posts) == 1, posts  # the second click was swallowed by the script
    assert_stored(receipt, scores=[3, *SCORES[1:]])


def test_the_form_fits_a_320_px_phone(chromium, server):
    context = chromium.new_context(viewport={"width": 320, "height": 640}, is_mobile=True,
                                   has_touch=True, device_scale_factor=2)
    page = context.new_page()
    try:
        page.goto(f"{server}/s/{desk('L1').slug}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 320, f"the form scrolls sideways: {width} px wide"
        for box in page.locator(".opts label").evaluate_all(
                "ls => ls.map(l => l.getBoundingClientRect().toJSON())"):
            assert box["left"] >= 0 and box["right"] <= 320
            assert box["height"] >= 44  # a comfortable tap target
        shot(page, "form-320")
        for number, score in enumerate(SCORES, start=1):
            label = labels(f"U{number}", "id")[score - 1]
            page.locator(f"#q-U{number}").get_by_text(label, exact=True).tap()
            assert page.locator(f"#q-U{number}").get_by_label(label, exact=True).is_checked()
        page.get_by_label("Layanan yang Anda terima").select_option(label="KTP-el")
        page.get_by_role("button", name="Kirim jawaban").tap()
        receipt = receipt_on(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        shot(page, "thanks-320")
        assert_stored(receipt)
    finally:
        context.close()


def test_the_form_page_stays_within_its_weight_budget_and_its_own_host(server, page):
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    urls, wire = {}, {}
    cdp.on("Network.requestWillBeSent",
           lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]))
    cdp.on("Network.loadingFinished",
           lambda e: wire.__setitem__(e["requestId"], e["encodedDataLength"]))
    requested, responses = [], []
    page.on("request", lambda request: requested.append(request.url))
    page.on("response", lambda response: responses.append(response))

    page.goto(f"{server}/s/{desk('L1').slug}", wait_until="networkidle")
    assert page.locator("#progress").is_visible()  # the script ran, the form is complete

    # Everything the browser fetched, as its network layer counts it (bytes on the wire,
    # headers included; this also sees the favicon request that pages do not report).
    fetched = set(urls.values())
    host = urlsplit(server).netloc
    assert fetched >= set(requested) and {urlsplit(u).netloc for u in fetched} == {host}, urls
    by_url = {urls[rid]: size for rid, size in wire.items()}
    assert set(by_url) == fetched, "a request did not finish"
    assert {urlsplit(u).path.rsplit("/", 1)[-1] for u in by_url} >= {"app.css", "survey.js"}
    total = sum(by_url.values())
    playwright_sizes = {}
    for response in responses:
        sizes = response.request.sizes()
        playwright_sizes[response.url] = sizes["responseHeadersSize"] + sizes[
            "responseBodySize"]
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "page-weight.json").write_text(json.dumps(
        {"budget": PAGE_BUDGET, "total": total, "wire_bytes": by_url,
         "playwright_headers_plus_body": playwright_sizes}, indent=2) + "\n")
    assert total <= PAGE_BUDGET, f"{total} bytes: {by_url}"
    for url, size in playwright_sizes.items():  # Playwright's own count agrees
        assert abs(size - by_url[url]) <= 0.05 * by_url[url] + 64, (url, size, by_url[url])
