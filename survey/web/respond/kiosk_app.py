"""The kiosk as an installable app (a Progressive Web App) for a tablet that staff
enrolled at a desk: its manifest, its service worker, and the settings its script reads
from the page. The questionnaire itself stays the server-rendered form of
survey.web.respond.views; kiosk.js takes it over where the browser can work offline (a
service worker and IndexedDB), keeps each response on the device with its own key and
capture time, and sends the waiting ones to the sync endpoint (survey.web.respond.sync).
Without those browser features the form posts to the kiosk address as before."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from survey.core import catalog
from survey.core.catalog import DeskView
from survey.core.db import db
from survey.web.access import PUBLIC

bp = Blueprint("kiosk_app", __name__)
POLICY = {"kiosk_app.manifest": PUBLIC, "kiosk_app.worker": PUBLIC}

STATIC = Path(__file__).resolve().parents[1] / "static"
# What the service worker keeps for a day without a connection, besides the pages.
ASSETS = ("app.css", "survey.js", "kiosk.js", "kiosk.css", "kiosk/icon-192.png",
          "kiosk/icon-512.png")
THANKS_SECONDS = 10  # the thank-you screen returns to the start screen after this


@cache
def assets_version() -> str:
    """A digest of the cached files: a new release changes the service worker's text, so
    browsers install it and refresh their copies."""
    digest = hashlib.sha256()
    for name in ASSETS:
        digest.update(name.encode())
        digest.update((STATIC / name).read_bytes())
    return digest.hexdigest()[:16]


def strings() -> dict[str, str]:
    """The sentences kiosk.js shows, in the current language ({n} is filled in)."""
    return {
        "online": _("Connected"),
        "offline": _("No connection: answers are kept on this tablet"),
        "waiting": _("Waiting to be sent: {n}"),
        "all_sent": _("All answers have been sent"),
        "sending": _("Sending…"),
        "refused": _("Refused by the server: {n}"),
        "details": _("Details for staff"),
        "blocked": _("Sending has stopped"),
        "not_saved": _("The answers could not be kept on this tablet. Please ask the staff "
                       "for help."),
        "discard_confirm": _("Remove the refused answers from this tablet? Note their "
                             "reasons first: they cannot be sent."),
        "captured": _("Answered at"),
        "reason": _("Reason"),
    }


def kiosk_config(desk: DeskView, *, locale: str) -> dict[str, object]:
    """What kiosk.js needs, embedded in the kiosk page as JSON."""
    other = "en" if locale == "id" else "id"
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    return {
        "slug": desk.slug,
        "sync": url_for("kiosk_sync.sync", slug=desk.slug),
        "worker": url_for("kiosk_app.worker"),
        "scope": "/k/",
        "lang": locale,
        "start": url_for("respond.kiosk", slug=desk.slug, lang=default),
        "pages": [url_for("respond.kiosk", slug=desk.slug, lang=code)
                  for code in (locale, other)],
        "batch": current_app.config["SURVEY_SYNC_MAX_BATCH"],
        "idle": current_app.config["SURVEY_KIOSK_IDLE_SECONDS"],
        "thanks": THANKS_SECONDS,
        "strings": strings(),
    }


@bp.get("/k/<slug>/manifest.webmanifest")
def manifest(slug: str) -> Response:
    """The web app manifest: a tablet can install the kiosk full screen on its home
    screen. Names in the default language, the one a kiosk starts in."""
    desk = catalog.desk_by_slug(db.session, slug)
    if desk is None:
        abort(404)
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        body = {
            "name": f"{_('Citizen Satisfaction Survey')} · {desk.name}",
            "short_name": _("Survey") + f" {desk.code}",
            "description": _("How was our service?"),
            "lang": current_app.config["BABEL_DEFAULT_LOCALE"],
            "start_url": url_for("respond.kiosk", slug=slug),
            "scope": "/k/",
            "display": "fullscreen",
            "orientation": "any",
            "background_color": "#ffffff",
            "theme_color": "#0a5bb0",
            "icons": [
                {"src": url_for("static", filename="kiosk/icon-192.png"),
                 "sizes": "192x192", "type": "image/png"},
                {"src": url_for("static", filename="kiosk/icon-512.png"),
                 "sizes": "512x512", "type": "image/png", "purpose": "any maskable"},
            ],
        }
    response = current_app.response_class(
        current_app.json.dumps(body), mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/k/sw.js")
def worker() -> Response:
    """The service worker, served from /k/ so that its scope covers every kiosk page."""
    script = render_template(
        "respond/sw.js", version=assets_version(),
        assets=[url_for("static", filename=name) for name in ASSETS])
    response = current_app.response_class(script, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"  # browsers check for a new release
    return response
