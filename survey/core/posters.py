"""Printable A4 posters with a desk's QR code, in Bahasa Indonesia and English.

Rendered with a plain Jinja environment (no Flask context) from core/templates, so the
`flask desk` commands and the staff pages print the same poster."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from survey.core import qr
from survey.core.links import survey_url
from survey.core.models import Desk

TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class PosterData:
    agency: str
    desk: str
    location: str | None
    url: str
    svg: str


def poster_data(base_url: str, desk: Desk) -> PosterData:
    url = survey_url(base_url, desk)
    return PosterData(desk.agency.name, desk.name, desk.location, url, qr.svg(url))


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                       autoescape=select_autoescape(default=True, default_for_string=True))


def posters_pdf(base_url: str, desks: list[Desk]) -> bytes:
    """One A4 page per desk."""
    from weasyprint import HTML  # a second to import; only the posters need it

    html = _environment().get_template("posters.html").render(
        posters=[poster_data(base_url, d) for d in desks])
    pdf = HTML(string=html).write_pdf()
    assert pdf is not None
    return pdf
