"""Public links of desks and tickets. They are built from the site's configured address
(PUBLIC_BASE_URL), never from a request's Host header, so a QR code or a printed link can
only ever point at this site."""

from __future__ import annotations

from survey.core.models import Desk


def public_url(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def survey_url(base_url: str, desk: Desk) -> str:
    return public_url(base_url, "/s/" + desk.slug)


def kiosk_url(base_url: str, desk: Desk) -> str:
    return public_url(base_url, "/k/" + desk.slug)


def ticket_url(base_url: str, token: str) -> str:
    return public_url(base_url, "/t/" + token)
