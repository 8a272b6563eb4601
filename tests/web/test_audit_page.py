"""The auditors' export page: the exact headers of its CSV downloads, a period key that
is not one, and the audit log's times in the site's zone."""

from __future__ import annotations

import re

import pytest
from support.factories import fill, make_user
from support.web import get, login, text


@pytest.fixture
def auditor(client, org):
    make_user(org, "aud@bpk.go.id", "auditor")
    login(client, "aud@bpk.go.id")
    return client


def test_every_csv_download_names_its_charset_once(org, auditor):
    fill(org, per_desk=3)
    page = text(get(auditor, "/audit/?period=2024-05"))
    links = sorted(set(re.findall(r'href="(/audit/ekspor/KEC-A\.csv[^"]*)"', page)))
    assert len(links) == 3  # plain, for Excel, including flagged
    for link in links:
        response = get(auditor, link)
        assert response.status_code == 200, link
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8", link
        assert response.get_data(as_text=True).lstrip("\ufeff").startswith("response_id")
        response.close()


@pytest.mark.parametrize("key", ["2026-XX", "2024-13", "abc"])
def test_a_period_that_is_not_one_is_said_in_the_page_and_offers_no_links(auditor, key):
    response = get(auditor, f"/audit/?period={key}")
    page = text(response)
    assert response.status_code == 422
    error = re.search(r'<div class="alert error" role="alert"[^>]*>(.*?)</div>', page, re.S)
    assert error and key in error.group(1)
    assert "2024-S1" in error.group(1)  # says what a period looks like
    assert 'name="period"' in page and f'value="{key}"' in page  # the form, to correct it
    assert "/audit/ekspor/" not in page


def test_a_valid_period_offers_its_links_without_an_error(auditor):
    page = text(get(auditor, "/audit/?period=2024-s1"))
    assert "alert error" not in page
    assert "/audit/ekspor/KEC-A.csv?period=2024-S1" in page
