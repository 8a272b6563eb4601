"""Fixtures the web tests share."""

from __future__ import annotations

import pytest
from support.factories import build_mpp, make_user
from support.web import login


@pytest.fixture
def manager(client, org):
    """A test client signed in as the manager of KEC-A."""
    make_user(org, "m@kec-a.go.id", "agency_manager", ["KEC-A"])
    login(client, "m@kec-a.go.id")
    return client


@pytest.fixture
def admin(client, org):
    """An administrator signed in, with a Mal Pelayanan Publik of five agencies."""
    build_mpp(org)
    make_user(org, "admin@skm.go.id", "admin")
    login(client, "admin@skm.go.id")
    return client


@pytest.fixture(scope="module")
def chromium():
    """Debian's headless Chromium for a browser test module (which skips itself first
    when Chromium or Playwright is missing: support.browser.require_browser)."""
    from playwright.sync_api import sync_playwright
    from support.browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
