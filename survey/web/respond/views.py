"""The citizen's pages: the home page, the questionnaire (desk QR, kiosk, one-time ticket)
and the thank-you page. Views parse, call the core, render; no statistics here."""

from __future__ import annotations

import secrets
import time

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf as csrf_token_value

from survey.core import catalog, citizen, questionnaires, receipts, tickets
from survey.core.catalog import DeskView
from survey.core.citizen import SurveyInput
from survey.core.db import db, utcnow
from survey.core.errors import ValidationError
from survey.core.org import kiosks
from survey.core.profile import PROFILE
from survey.web.access import PUBLIC
from survey.web.devices import device_of
from survey.web.extensions import limiter
from survey.web.i18n import current_locale
from survey.web.messages import message_for
from survey.web.respond import signals
from survey.web.respond.forms import NOT_STATED, Forged, ReceiptCheckForm, parse
from survey.web.respond.kiosk_app import kiosk_config

bp = Blueprint("respond", __name__)
POLICY = {f"respond.{name}": PUBLIC for name in (
    "home", "survey", "submit", "kiosk", "kiosk_submit", "ticket", "ticket_submit", "thanks",
    "check")}

KIOSK_RETURN_SECONDS = 10


def _submit_limit() -> str:
    return current_app.config["SUBMIT_RATE_LIMIT"]


@bp.get("/")
def home():
    query = request.args.get("q", "")[:100].strip()
    tops = citizen.agency_directory(db.session)
    return render_template(
        "respond/home.html", query=query, entries=citizen.desk_directory(tops, query),
        parents=[a for a in tops if a.children])


# --- pages ---------------------------------------------------------------------------------


def _open_desk(slug: str, *, posting: bool = False) -> DeskView:
    desk = catalog.desk_by_slug(db.session, slug)
    if desk is None:
        # A POST to a desk that does not exist is a forged submission.
        abort(400 if posting else 404, description=_("This survey link is not valid."))
    if not desk.active:
        abort(410, description=_("This service desk is closed and no longer takes "
                                 "responses. Thank you for your interest."))
    return desk


def _form_page(desk: DeskView, *, mode: str, action: str, data: SurveyInput | None = None,
               errors: dict[str, str] | None = None, status: int = 200,
               kiosk: dict[str, object] | None = None):
    data = data or SurveyInput()
    key = data.idempotency_key or secrets.token_urlsafe(18)
    context = {
        "desk": desk, "mode": mode, "action": action, "data": data, "errors": errors or {},
        "kiosk": kiosk, "locale": current_locale(),
    }
    if status == 200 and kiosk is None and not request.query_string \
            and "_flashes" not in session:
        html = _blank_form(context, idempotency_key=key)
    else:
        html = _render_form(context, csrf=csrf_token_value(), idempotency_key=key,
                            served=signals.served_token())
    response = current_app.make_response((html, status))
    response.headers["Cache-Control"] = "no-store"
    return response


def _render_form(context: dict, *, csrf: str, idempotency_key: str, served: str) -> str:
    return render_template(
        "respond/survey.html", **context,
        elements=questionnaires.elements(db.session, context["desk"].questionnaire_id),
        services=context["desk"].active_services(), profile=PROFILE, not_stated=NOT_STATED,
        csrf_token=lambda: csrf,
        idempotency_key=idempotency_key, served=served)


FORMS_KEPT = 512  # blank forms kept per application (desk x language x kind of link)


def _blank_form(context: dict, *, idempotency_key: str) -> str:
    """A blank form (nothing chosen, no errors) rendered once per desk copy, language and
    address, with markers where the per-request values go: the CSRF token, the
    idempotency key and the signed time the form was served. Rendering the nine questions
    with their labels was most of the form's CPU. The key holds the desk's catalog copy,
    which is replaced whenever the catalog changes (survey.core.catalog), so a renamed
    desk or service shows at once."""
    kept: dict = current_app.extensions.setdefault("survey_blank_forms", {})
    marker = current_app.extensions.setdefault("survey_blank_form_marker",
                                               "m" + secrets.token_hex(12))
    cache_key = (context["desk"], context["mode"], context["action"], context["locale"],
                 request.path)
    shell = kept.get(cache_key)
    if shell is None:
        if len(kept) >= FORMS_KEPT:
            kept.clear()
        shell = kept[cache_key] = _render_form(
            context, csrf=marker + "c", idempotency_key=marker + "k", served=marker + "s")
    return (shell.replace(marker + "c", csrf_token_value())
            .replace(marker + "k", idempotency_key)
            .replace(marker + "s", signals.served_token()))


@bp.get("/s/<slug>")
def survey(slug: str):
    desk = _open_desk(slug)
    return _form_page(desk, mode="qr", action=url_for("respond.submit", slug=slug))


def _enrolled(desk: DeskView) -> bool:
    """Whether this browser is a kiosk device enrolled for the desk by its staff."""
    device_id, secret = device_of(request)
    return kiosks.recognised(db.session, desk.id, device_id, secret)


@bp.get("/k/<slug>")
def kiosk(slug: str):
    """The kiosk app on a tablet enrolled for this desk. A revoked tablet gets a page that
    takes no answers but says what still waits on it (kiosk.js counts it): the answers
    kept there are sent once staff enrol it again."""
    desk = _open_desk(slug)
    device_id, secret = device_of(request)
    device = kiosks.identify(db.session, desk.id, device_id, secret)
    if device is None:  # anyone can type a kiosk address: it is then a QR survey
        return redirect(url_for("respond.survey", slug=slug))
    kiosks.touch(db.session, device, utcnow())
    config = kiosk_config(desk, locale=current_locale())
    if device.revoked_at is not None:
        config["revoked"] = True
        response = current_app.make_response(render_template(
            "respond/kiosk_revoked.html", desk=desk, kiosk=config,
            survey_link=url_for("respond.survey", slug=slug)))
        response.headers["Cache-Control"] = "no-store"
        return response
    return _form_page(desk, mode="kiosk", action=url_for("respond.kiosk_submit", slug=slug),
                      kiosk=config)


@bp.get("/t/<token>")
def ticket(token: str):
    desk = _ticket_desk(token)
    return _form_page(desk, mode="ticket", action=url_for("respond.ticket_submit",
                                                            token=token))


def _ticket_desk(token: str, *, posting: bool = False) -> DeskView:
    """The ticket's desk. Opening the form needs a usable ticket; a submission is checked
    when it consumes the ticket, after an idempotent replay has had its chance (a double
    tap must show the same thank-you page, not "already used")."""
    try:
        found = tickets.find(db.session, token) if posting else tickets.check(db.session,
                                                                               token)
    except tickets.TicketRefused as refused:
        _refuse_ticket(refused)
    desk = catalog.desk_by_id(db.session, found.desk_id)
    if desk is None or not desk.active:
        abort(410, description=_("This service desk is closed and no longer takes "
                                 "responses. Thank you for your interest."))
    return desk


def _refuse_ticket(refused: tickets.TicketRefused):
    messages = {
        404: _("This ticket is not valid. Please check the link on your ticket."),
        409: _("This ticket has already been used. Each ticket counts once."),
        410: _("This ticket has expired. Tickets are valid for one day."),
    }
    abort(refused.status, description=messages[refused.status])


# --- submissions -------------------------------------------------------------------------


@bp.post("/s/<slug>")
@limiter.limit(_submit_limit)
def submit(slug: str):
    desk = _open_desk(slug, posting=True)
    return _handle(desk, mode="qr", action=url_for("respond.submit", slug=slug))


@bp.post("/k/<slug>")
@limiter.limit(_submit_limit)
def kiosk_submit(slug: str):
    desk = _open_desk(slug, posting=True)
    device_id, secret = device_of(request)
    device = kiosks.identify(db.session, desk.id, device_id, secret)
    if device is None or device.revoked_at is not None:  # a QR response, with cooldown
        return _handle(desk, mode="qr", action=url_for("respond.submit", slug=slug))
    return _handle(desk, mode="kiosk", action=url_for("respond.kiosk_submit", slug=slug),
                   device_id=device.id)


@bp.post("/t/<token>")
@limiter.limit(_submit_limit)
def ticket_submit(token: str):
    desk = _ticket_desk(token, posting=True)
    return _handle(desk, mode="ticket", action=url_for("respond.ticket_submit", token=token),
                   ticket_token=token)


def _handle(desk: DeskView, *, mode: str, action: str, ticket_token: str | None = None,
            device_id: int | None = None):
    try:
        data, errors = parse(request.form,
                             questionnaires.elements(db.session, desk.questionnaire_id),
                             desk.active_services())
    except Forged as forged:
        current_app.logger.info("forged survey form: %s", forged)
        abort(400, description=_("This form was not sent as the survey page sends it. Please "
                                 "open the survey again and answer with its buttons."))
    if errors:
        return _form_page(desk, mode=mode, action=action, data=data, errors=errors,
                          status=422)
    now = time.time()
    recent = None
    if mode == "qr":
        recent = signals.recent_submissions(request.cookies.get(signals.COOLDOWN_COOKIE))
    flags: tuple[str, ...] = ()
    if mode != "ticket":  # a one-time ticket is its own proof of a visit
        flags = signals.flags_for(desk_id=desk.id, desk_slug=desk.slug, honeypot=data.honeypot,
                                  served=data.served_token, recent=recent, now=now,
                                  answers=data.answers)
    channel = {"qr": "qr", "kiosk": "kiosk", "ticket": "ticket"}[mode]
    slug = desk.slug
    try:
        outcome = citizen.submit(db.session, desk, data, channel=channel, flags=flags,
                                  now=utcnow(), ticket_token=ticket_token,
                                  device_id=device_id)
    except tickets.TicketRefused as refused:
        _refuse_ticket(refused)
    except citizen.IdempotencyConflict:
        abort(409, description=_("This form was already sent for another desk. Please "
                                 "open the survey again."))
    except ValidationError as exc:  # e.g. the period is closed (a clock set far back)
        abort(409, description=message_for(exc))
    session["done"] = {
        "receipt": outcome.receipt,
        "low": outcome.low,
        "masked": outcome.masked_numbers,
        # A kiosk returns to a fresh form in the default language for the next citizen.
        "again": (url_for("i18n.switch", code=current_app.config["BABEL_DEFAULT_LOCALE"],
                          next=url_for("respond.kiosk", slug=slug))
                  if mode == "kiosk" else None),
    }
    # A fixed address: the receipt never reaches a URL, an access log or a Referer.
    response = redirect(url_for("respond.thanks"), code=303)
    if mode == "qr" and not outcome.replayed:
        response.set_cookie(
            signals.COOLDOWN_COOKIE, signals.cooldown_cookie(recent or {}, slug, now),
            max_age=60 * current_app.config["SURVEY_COOLDOWN_MINUTES"], httponly=True,
            samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


@bp.get("/selesai")
def thanks():
    """The thank-you page shows the receipt once: it is taken out of the session, so a
    reload, the back button or a later visitor of the same browser does not see it."""
    done = session.pop("done", None) or {}
    response = current_app.make_response(render_template(
        "respond/thanks.html", receipt=done.get("receipt"), low=done.get("low", False),
        masked=done.get("masked", 0), again=done.get("again"),
        lapor_url=current_app.config["LAPOR_URL"], seconds=KIOSK_RETURN_SECONDS))
    response.headers["Cache-Control"] = "no-store"
    return response


def _check_limit() -> str:
    return current_app.config.get("RECEIPT_CHECK_LIMIT", "10 per minute")


@bp.route("/cek-kode", methods=["GET", "POST"])
@limiter.limit(_check_limit, methods=["POST"])
def check():
    """Cek kode tanda terima: whether a receipt code is on the hash chain and since when a
    signed export covers it; nothing else about the response."""
    form = ReceiptCheckForm()
    result, code, status = None, None, 200
    if form.validate_on_submit():
        code = receipts.normalise(form.code.data)
        if code is None:
            form.code.errors.append(_("A receipt code has ten letters and digits, such as "
                                      "7KQ2M-XD93P."))
            status = 422
        else:
            result = receipts.check(db.session, code)
    elif form.is_submitted():
        status = 422
    response = current_app.make_response((render_template(
        "respond/check.html", form=form, code=code, result=result), status))
    response.headers["Cache-Control"] = "no-store"
    return response
