"""Desk links, QR codes, posters, tickets and desk API keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from flask import render_template
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .. import qr
from ..models import Agency, Desk
from ..urls import public_url


def survey_url(desk: Desk) -> str:
    return public_url("/s/" + desk.slug)


def kiosk_url(desk: Desk) -> str:
    return public_url("/k/" + desk.slug)


def ticket_url(token: str) -> str:
    return public_url("/t/" + token)


def desks_of(session: Session, agency_ids: set[int] | None) -> list[Desk]:
    query = (select(Desk).join(Agency).options(selectinload(Desk.agency))
             .order_by(Agency.code, Desk.code))
    if agency_ids is not None:
        query = query.where(Desk.agency_id.in_(agency_ids))
    return list(session.scalars(query))


def qr_image(desk: Desk, fmt: str) -> tuple[bytes, str]:
    url = survey_url(desk)
    if fmt == "png":
        return qr.png(url), "image/png"
    if fmt == "svg":
        return qr.svg(url).encode(), "image/svg+xml"
    raise ValueError(f"unknown QR format {fmt!r}; use png or svg")


@dataclass(frozen=True)
class PosterData:
    agency: str
    desk: str
    location: str | None
    url: str
    svg: str


def poster_data(desk: Desk) -> PosterData:
    url = survey_url(desk)
    return PosterData(desk.agency.name, desk.name, desk.location, url, qr.svg(url))


def posters_pdf(desks: list[Desk]) -> bytes:
    """One A4 page per desk (needs an application context for the template)."""
    from weasyprint import HTML

    html = render_template("desks/posters.html", posters=[poster_data(d) for d in desks])
    return HTML(string=html).write_pdf()


def new_api_key(desk: Desk) -> str:
    """Give the desk a new API key for queue systems (shown once; only its hash is kept)."""
    key = "skm_" + secrets.token_urlsafe(24)
    desk.api_key_hash = api_key_hash(key)
    return key


def api_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def desk_by_api_key(session: Session, key: str) -> Desk | None:
    if not key:
        return None
    return session.scalar(select(Desk).where(Desk.api_key_hash == api_key_hash(key))
                          .options(selectinload(Desk.agency)))
