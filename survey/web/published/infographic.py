"""The public infographic (no login) of an agency or an MPP for a closed period, to put on
a website or social media: SVG, PNG (portrait or square) and an A4 PDF.

Its language is chosen by the address only (Indonesian, or English with ``?lang=en``),
not by the visitor's cookie: the images are cached publicly, so one address must always
give the same picture."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from survey.core import infographic
from survey.core.errors import NotFound
from survey.core.org.agencies import get_agency
from survey.ikm.standards import get_standard
from survey.web import labels
from survey.web.access import PUBLIC
from survey.web.extensions import limiter
from survey.web.i18n import format_number
from survey.web.messages import message_for, refuse
from survey.web.replica import reads
from survey.web.urls import public_url

bp = Blueprint("infographic", __name__, url_prefix="/publik")
POLICY = {"infographic.svg": PUBLIC, "infographic.png": PUBLIC, "infographic.pdf": PUBLIC}
GRADE_STANDARD = "permenpan-14-2017"  # the grade bands' words are the same in every standard


def _limit() -> str:
    """Drawing a PNG or a PDF takes a CPU for a moment: a visitor gets a few a minute."""
    return current_app.config["INFOGRAPHIC_RATE_LIMIT"]


def language() -> str:
    """``?lang=en`` or the site's default language (Indonesian)."""
    chosen = request.args.get("lang")
    if chosen in current_app.config["LANGUAGES"]:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def texts(lang: str) -> infographic.Texts:
    """Every word of the infographic in `lang`, through the catalogue."""
    with force_locale(lang):
        return infographic.Texts(
            locale=lang,
            number=lambda value, places: format_number(value, places, lang),
            survey=_("Community Satisfaction Survey"),
            index=_("Community Satisfaction Index (IKM)"),
            scale=_("on a scale of 25 to 100"),
            interval=_("%(level)s interval", level="95%"),
            grade=_("Service grade"),
            grades={band.grade: band.label_en if lang == "en" else band.label_id
                    for band in get_standard(GRADE_STANDARD).bands},
            no_grade=_("no grade (fewer than 10 responses)"),
            respondents=_("Respondents"),
            elements=_("Element scores (NRR × 25)"),
            profile=_("Respondent profile"),
            fields={field: str(label) for field, label in labels.FIELD_LABELS.items()},
            choices={field: {code: str(label) for code, label in choices.items()}
                     for field, choices in labels.CHOICE_LABELS.items()},
            not_stated=_("Not stated"),
            follow_ups=_("Follow-up plan"),
            no_follow_ups=_("No follow-up actions for this period yet."),
            statuses={code: str(label) for code, label in labels.STATUS_LABELS.items()},
            more_follow_ups=_("The whole plan is on the public results page."),
            scan=_("Scan for the full results"),
            basis=_("Computed according to PermenPAN-RB No. 14 of 2017."),
        )


def _infographic(code: str) -> infographic.Infographic:
    """The agency's infographic for ``?period=`` (default: the latest closed period), or a
    404 that says why (unknown agency, a period not published, no results in it)."""
    lang = language()
    session = reads()  # the read replica when one serves: only published figures here
    try:
        agency = get_agency(session, code)
        period = infographic.published_period(session, request.args.get("period"))
        page = public_url(url_for("published.agency", code=agency.code,
                                  lang=None if lang == "id" else lang))
        return infographic.build(session, agency, period, texts(lang), page)
    except NotFound as exc:
        refuse(404, message_for(exc), exc.code)


def _layout() -> str:
    layout = request.args.get("format") or "portrait"
    if layout not in infographic.SIZES:
        refuse(400, _("Choose the portrait or the square format."), "bad_format")
    return layout


def _cached(body: bytes | str, mimetype: str, filename: str | None = None) -> Response:
    """Cached like the badge: an agency's site or a post may load it from anywhere."""
    response = current_app.response_class(body, mimetype=mimetype)
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers.pop("X-Frame-Options", None)
    if filename:
        response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def _filename(info: infographic.Infographic, extension: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in
                   f"{info.agency_code}-{info.period.key}")
    return f"infografik-{safe}.{extension}"


@bp.get("/<code>/infografik.svg")
@limiter.limit(_limit)
def svg(code: str):
    layout = _layout()
    info = _infographic(code)
    return _cached(infographic.render_svg(info, layout), "image/svg+xml")


@bp.get("/<code>/infografik.png")
@limiter.limit(_limit)
def png(code: str):
    layout = _layout()
    info = _infographic(code)
    image = infographic.render_png(infographic.render_svg(info, layout), layout)
    return _cached(image, "image/png", _filename(info, "png"))


@bp.get("/<code>/infografik.pdf")
@limiter.limit(_limit)
def pdf(code: str):
    info = _infographic(code)
    return _cached(infographic.render_pdf(info), "application/pdf", _filename(info, "pdf"))
