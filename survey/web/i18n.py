"""Language choice: Bahasa Indonesia by default, English by a visible switch, remembered in a
cookie so that a citizen who switched once keeps their language on every page."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import urlsplit

from babel.numbers import format_decimal
from flask import Blueprint, current_app, g, redirect, request
from flask_babel import get_locale

from survey.core import localtime
from survey.ikm.standards import display_decimal

bp = Blueprint("i18n", __name__)
POLICY = {"i18n.switch": "public"}

COOKIE = "lang"
ONE_YEAR = 365 * 24 * 3600


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    chosen = request.args.get("lang") or request.cookies.get(COOKIE)
    return chosen if chosen in languages else current_app.config["BABEL_DEFAULT_LOCALE"]


def site_timezone() -> str:
    """The site's default time zone (an agency's own zone is `Agency.timezone`)."""
    return current_app.config["TIMEZONE"]


def current_locale() -> str:
    return str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])


def safe_next(target: str | None, fallback: str = "/") -> str:
    """Only same-site relative paths: a language switch or a sign-in must not become an open
    redirect, nor put a control character (CR/LF: a split header) into Location. A
    backslash is refused too: browsers read "/\\evil.example" as "//evil.example"."""
    if not target or any(c < " " or c in "\x7f\\" for c in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    return target


@bp.get("/bahasa/<code>")
def switch(code: str):
    """Set the interface language and go back where the visitor was."""
    if code not in current_app.config["LANGUAGES"]:
        return {"error": f"unknown language {code!r}"}, 404
    response = redirect(safe_next(request.args.get("next")), code=303)
    response.set_cookie(COOKIE, code, max_age=ONE_YEAR, samesite="Lax", httponly=True,
                        secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


# Group and decimal separators of the interface languages, as Babel's CLDR data has them
# (a test compares the two): formatting by hand is three times faster than
# babel.numbers, and a dashboard prints about two thousand numbers. Other locales go
# through Babel.
SEPARATORS = {"id": (".", ","), "en": (",", ".")}


def number(value: float | None, places: int = 2) -> str:
    """A number in the visitor's convention, rounded half-up like the reports: 85,04 in
    Indonesian, 85.04 in English; an em dash when there is no value."""
    if value is None:
        return "—"
    locale = getattr(g, "number_locale", None)
    if locale is None:
        locale = g.number_locale = current_locale()
    return format_number(value, places, locale)


def format_number(value: float, places: int, locale: str) -> str:
    rounded = display_decimal(value, places)
    separators = SEPARATORS.get(locale)
    if separators is None:
        pattern = "#,##0" + ("." + "0" * places if places else "")
        return format_decimal(rounded, format=pattern, locale=locale)
    text = f"{rounded:,.{places}f}"
    group, decimal = separators
    if (group, decimal) == (",", "."):
        return text
    return text.replace(",", "\0").replace(".", decimal).replace("\0", group)


def percent(value: float | None, places: int = 1) -> str:
    return "—" if value is None else number(100 * value, places) + "%"


def local_time(value: datetime | None, timezone: str | None = None, long: bool = False) -> str:
    """A stored (UTC) time as people read it: in the agency's zone (`timezone`, e.g.
    `agency.timezone`) or else the site's, in the visitor's language, with the zone's
    name: 4 Des 2026 22.40 WIB. The Jinja filter `local_time` (and its older name
    `moment`)."""
    return localtime.local_time(value, timezone or site_timezone(), current_locale(),
                                long=long)


moment = local_time


def long_date(day: date | None) -> str:
    """A day with its month written out in the visitor's language: 5 Desember 2026 (the
    Jinja filter `long_date`)."""
    return localtime.long_date(day, current_locale())
