"""The published results page (no login) and the embeddable badge. Both read the read
replica when one serves (survey/web/replica.py): nobody's own write is shown here, so its
lag, bounded by READ_REPLICA_MAX_LAG_SECONDS, is all a visitor may notice."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template

from survey.core.errors import NotFound
from survey.core.models import Agency
from survey.core.org.agencies import get_agency
from survey.core.periods import local_today
from survey.core.results.followups import overdue_ids
from survey.core.results.published import public_results
from survey.web.access import PUBLIC
from survey.web.i18n import current_locale, number
from survey.web.published.badge import badge_svg
from survey.web.replica import reads

bp = Blueprint("published", __name__, url_prefix="/publik")
POLICY = {"published.agency": PUBLIC, "published.badge": PUBLIC}


def _agency(code: str) -> Agency:
    try:
        return get_agency(reads(), code)
    except NotFound:
        abort(404)


@bp.get("/<code>")
def agency(code: str):
    agency = _agency(code)
    data = public_results(reads(), agency, current_locale())
    return render_template("published/agency.html", data=data, locale=current_locale(),
                           overdue=overdue_ids(data.follow_ups,
                                               local_today(agency.timezone)))


@bp.get("/<code>/badge.svg")
def badge(code: str):
    data = public_results(reads(), _agency(code), current_locale())
    est = data.estimate
    text = (f"IKM {number(est.ikm_converted)} · {est.grade or '–'}" if est is not None
            else "IKM –")
    svg = badge_svg("SKM", text, data.period.label(current_locale()) if data.period else "")
    response = current_app.response_class(svg, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers.pop("X-Frame-Options", None)
    return response
