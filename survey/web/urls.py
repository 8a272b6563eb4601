"""Public links for pages and templates, from the configured PUBLIC_BASE_URL (see
survey.core.links)."""

from __future__ import annotations

from flask import current_app

from survey.core import links
from survey.core.models import Desk


def base_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"]


def public_url(path: str) -> str:
    return links.public_url(base_url(), path)


def survey_url(desk: Desk) -> str:
    return links.survey_url(base_url(), desk)


def kiosk_url(desk: Desk) -> str:
    return links.kiosk_url(base_url(), desk)


def ticket_url(token: str) -> str:
    return links.ticket_url(base_url(), token)
