"""Admin pages: agencies, desks, services, users, reporting periods and service volumes.

Administrators manage everything; agency managers manage the desks, services and volumes
of their agencies (and the agencies below them). Agencies are resolved with
`require_agency`, so another agency's code, desk or service is a 404. Every change is one
write transaction that also writes its audit event; views parse, call a service, render.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..access import ADMIN, MANAGERS, filter_visible, require_agency, visible_agency_ids
from ..audit_log import record_event
from ..database import utcnow, write_transaction
from ..desks.services import survey_url
from ..errors import NotFound, ValidationError
from ..extensions import csrf, db
from ..i18n import current_locale
from ..models import Agency, Desk, Questionnaire, ReportingPeriod, Service, User
from ..periods import parse_period
from . import cli as _cli  # noqa: F401  (registers `flask volume import`)
from . import forms, services, volumes
from .uploads import UPLOAD_LIMIT, large_post

bp = Blueprint("admin", __name__, url_prefix="/admin")
blueprints = [bp]

POLICY = {
    "admin.index": MANAGERS,
    "admin.agencies": ADMIN,
    "admin.agency_new": ADMIN,
    "admin.agency_edit": ADMIN,
    "admin.desks": MANAGERS,
    "admin.desk_new": MANAGERS,
    "admin.desk_edit": MANAGERS,
    "admin.desk_status": MANAGERS,
    "admin.desk_slug": MANAGERS,
    "admin.services_list": MANAGERS,
    "admin.service_new": MANAGERS,
    "admin.service_edit": MANAGERS,
    "admin.volumes_grid": MANAGERS,
    "admin.volume_import": MANAGERS,
    "admin.users": ADMIN,
    "admin.user_new": ADMIN,
    "admin.user_edit": ADMIN,
    "admin.user_password": ADMIN,
    "admin.periods": ADMIN,
    "admin.period_close": ADMIN,
    "admin.period_reopen": ADMIN,
}

def local_today() -> date:
    """Today in the site's default zone (not the server's, which may run on UTC)."""
    return datetime.now(ZoneInfo(current_app.config["TIMEZONE"])).date()


def _saved(message: str, endpoint: str, **values):
    flash(message)
    return redirect(url_for(endpoint, **values), code=303)


def _agency_tree(agencies: list[Agency]) -> tuple[list[Agency], dict[int, list[Agency]]]:
    """Roots and children among the given agencies (a child whose parent is not listed is
    a root), for the nested lists."""
    ids = {a.id for a in agencies}
    children: dict[int, list[Agency]] = {}
    roots = []
    for agency in agencies:
        if agency.parent_id in ids:
            children.setdefault(agency.parent_id, []).append(agency)
        else:
            roots.append(agency)
    return roots, children


def _all_agencies() -> list[Agency]:
    return list(db.session.scalars(select(Agency).order_by(Agency.code)))


# --- index and agencies --------------------------------------------------------------------


@bp.get("/")
def index():
    agencies = filter_visible(db.session, current_user, _all_agencies())
    roots, children = _agency_tree(agencies)
    return render_template("admin/index.html", roots=roots, children=children,
                           is_admin=current_user.role == "admin")


@bp.get("/instansi")
def agencies():
    roots, children = _agency_tree(_all_agencies())
    return render_template("admin/agencies.html", roots=roots, children=children)


def _agency_choices(form: forms.AgencyForm, exclude: set[int] = frozenset()) -> None:
    form.parent.choices = forms.choices([("", _("— none (top level) —"))] + [
        (a.code, f"{a.code} · {a.name}") for a in _all_agencies() if a.id not in exclude])


@bp.route("/instansi/baru", methods=["GET", "POST"])
def agency_new():
    form = forms.AgencyCreateForm()
    _agency_choices(form)
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            with write_transaction(db.session):
                agency = services.create_agency(
                    db.session, form.code.data, form.name.data, form.parent.data or None,
                    form.timezone.data, form.head_name.data, form.head_nip.data)
                record_event(db.session, "agency_created", user=current_user,
                             target=agency.code,
                             details={"name": agency.name, "parent": form.parent.data or None})
        except (ValidationError, NotFound) as exc:
            errors.append(str(exc))
        else:
            return _saved(_("Agency %(code)s created.", code=form.code.data.strip()),
                          "admin.agencies")
    status = 422 if form.is_submitted() else 200
    return render_template("admin/agency_form.html", form=form, agency=None,
                           errors=errors), status


@bp.route("/instansi/<code>/ubah", methods=["GET", "POST"])
def agency_edit(code: str):
    agency = require_agency(db.session, current_user, code)
    form = forms.AgencyForm(data=None if request.method == "POST" else {
        "name": agency.name, "parent": agency.parent.code if agency.parent else "",
        "timezone": agency.timezone, "head_name": agency.head_name or "",
        "head_nip": agency.head_nip or ""})
    # Neither the agency itself nor anything below it can become its parent.
    _agency_choices(form, exclude=services.descendant_ids(db.session, agency))
    if agency.timezone not in dict(forms.TIMEZONES):
        form.timezone.choices = forms.choices([*forms.TIMEZONES,
                                               (agency.timezone, agency.timezone)])
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            with write_transaction(db.session):
                changes = services.update_agency(
                    db.session, agency, form.name.data, form.parent.data or None,
                    form.timezone.data, form.head_name.data, form.head_nip.data)
                if changes:
                    record_event(db.session, "agency_updated", user=current_user,
                                 target=code, details={k: list(v) for k, v in changes.items()})
        except (ValidationError, NotFound) as exc:
            errors.append(str(exc))
        else:
            return _saved(_("Agency %(code)s saved.", code=code), "admin.agencies")
    status = 422 if form.is_submitted() else 200
    return render_template("admin/agency_form.html", form=form, agency=agency,
                           errors=errors), status


# --- desks ---------------------------------------------------------------------------------


def _desk(agency: Agency, desk_id: int) -> Desk:
    desk = db.session.get(Desk, desk_id)
    if desk is None or desk.agency_id != agency.id:
        abort(404)
    return desk


def _service_choices(agency: Agency) -> list[forms.SelectChoice]:
    return forms.choices(
        (s.id, f"{s.code} · {s.name_id}" + ("" if s.active else f" ({_('not offered')})"))
        for s in agency.services)


@bp.get("/instansi/<code>/loket")
def desks(code: str):
    agency = require_agency(db.session, current_user, code)
    return render_template("admin/desks.html", agency=agency, desks=agency.desks,
                           survey_url=survey_url, locale=current_locale())


@bp.route("/instansi/<code>/loket/baru", methods=["GET", "POST"])
def desk_new(code: str):
    agency = require_agency(db.session, current_user, code)
    form = forms.DeskCreateForm()
    locale = current_locale()
    form.questionnaire.choices = forms.choices(
        (q.code, q.title_en if locale == "en" else q.title_id)
        for q in db.session.scalars(select(Questionnaire).order_by(Questionnaire.id)))
    form.services.choices = _service_choices(agency)
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            with write_transaction(db.session):
                desk = services.create_desk(db.session, code, form.code.data, form.name.data,
                                            form.location.data, form.questionnaire.data)
                offered = services.assign_services(db.session, desk, form.services.data)
                record_event(db.session, "desk_created", user=current_user,
                             target=f"{code}/{desk.code}",
                             details={"name": desk.name, "questionnaire": form.questionnaire.data,
                                      "services": offered})
        except (ValidationError, NotFound) as exc:
            errors.append(str(exc))
        else:
            return _saved(_("Desk %(code)s created.", code=form.code.data.strip()),
                          "admin.desks", code=code)
    status = 422 if form.is_submitted() else 200
    return render_template("admin/desk_form.html", form=form, agency=agency, desk=None,
                           errors=errors), status


@bp.route("/instansi/<code>/loket/<int:desk_id>", methods=["GET", "POST"])
def desk_edit(code: str, desk_id: int):
    agency = require_agency(db.session, current_user, code)
    desk = _desk(agency, desk_id)
    form = forms.DeskForm(data=None if request.method == "POST" else {
        "name": desk.name, "location": desk.location or "",
        "services": [s.id for s in desk.services]})
    form.services.choices = _service_choices(agency)
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            with write_transaction(db.session):
                services.update_desk(db.session, desk, form.name.data, form.location.data)
                offered = services.assign_services(db.session, desk, form.services.data)
                record_event(db.session, "desk_updated", user=current_user,
                             target=f"{code}/{desk.code}",
                             details={"name": desk.name, "location": desk.location,
                                      "services": offered})
        except (ValidationError, NotFound) as exc:
            errors.append(str(exc))
        else:
            return _saved(_("Desk %(code)s saved.", code=desk.code), "admin.desks", code=code)
    status = 422 if form.is_submitted() else 200
    return render_template("admin/desk_form.html", form=form, agency=agency, desk=desk,
                           errors=errors, status_form=forms.ActionForm(),
                           slug_form=forms.SlugForm(), survey_url=survey_url), status


@bp.post("/instansi/<code>/loket/<int:desk_id>/status")
def desk_status(code: str, desk_id: int):
    agency = require_agency(db.session, current_user, code)
    desk = _desk(agency, desk_id)
    form = forms.ActionForm()
    active = request.form.get("active") == "1"
    if not form.validate_on_submit():
        abort(400)
    with write_transaction(db.session):
        if services.set_desk_active(db.session, desk, active):
            record_event(db.session, "desk_activated" if active else "desk_deactivated",
                         user=current_user, target=f"{code}/{desk.code}")
    message = (_("Desk %(code)s is open again; its survey link works.", code=desk.code)
               if active else
               _("Desk %(code)s is closed; its survey link now says it no longer takes "
                 "responses.", code=desk.code))
    return _saved(message, "admin.desk_edit", code=code, desk_id=desk_id)


@bp.post("/instansi/<code>/loket/<int:desk_id>/tautan")
def desk_slug(code: str, desk_id: int):
    agency = require_agency(db.session, current_user, code)
    desk = _desk(agency, desk_id)
    form = forms.SlugForm()
    if not form.validate_on_submit():
        flash(_("The link was not changed: tick the box to confirm that printed QR codes "
                "will stop working."))
        return redirect(url_for("admin.desk_edit", code=code, desk_id=desk_id), code=303)
    with write_transaction(db.session):
        services.regenerate_slug(db.session, desk)
        # The old slug is not logged: it would keep a dead link findable for misuse.
        record_event(db.session, "desk_slug_regenerated", user=current_user,
                     target=f"{code}/{desk.code}")
    return _saved(_("Desk %(code)s has a new survey link. Print its new QR poster.",
                    code=desk.code), "admin.desk_edit", code=code, desk_id=desk_id)


# --- services ------------------------------------------------------------------------------


def _desk_choices(agency: Agency) -> list[forms.SelectChoice]:
    return forms.choices((d.id, f"{d.code} · {d.name}") for d in agency.desks)


@bp.get("/instansi/<code>/layanan")
def services_list(code: str):
    agency = require_agency(db.session, current_user, code)
    return render_template("admin/services.html", agency=agency, services=agency.services)


@bp.route("/instansi/<code>/layanan/baru", methods=["GET", "POST"])
def service_new(code: str):
    agency = require_agency(db.session, current_user, code)
    form = forms.ServiceCreateForm()
    form.desks.choices = _desk_choices(agency)
    errors: list[str] = []
    if form.validate_on_submit():
        desk_codes = [d.code for d in agency.desks if d.id in set(form.desks.data)]
        try:
            with write_transaction(db.session):
                service = services.create_service(db.session, code, form.code.data,
                                                  form.name_id.data, form.name_en.data,
                                                  desk_codes)
                service.active = form.active.data
                record_event(db.session, "service_created", user=current_user,
                             target=f"{code}/{service.code}",
                             details={"name_id": service.name_id, "name_en": service.name_en,
                                      "active": service.active, "desks": desk_codes})
        except (ValidationError, NotFound) as exc:
            errors.append(str(exc))
        else:
            return _saved(_("Service %(code)s created.", code=form.code.data.strip()),
                          "admin.services_list", code=code)
    status = 422 if form.is_submitted() else 200
    return render_template("admin/service_form.html", form=form, agency=agency, service=None,
                           errors=errors), status


@bp.route("/instansi/<code>/layanan/<int:service_id>", methods=["GET", "POST"])
def service_edit(code: str, service_id: int):
    agency = require_agency(db.session, current_user, code)
    service = db.session.get(Service, service_id)
    if service is None or service.agency_id != agency.id:
        abort(404)
    form = forms.ServiceForm(data=None if request.method == "POST" else {
        "name_id": service.name_id, "name_en": service.name_en or "",
        "active": service.active, "desks": [d.id for d in service.desks]})
    form.desks.choices = _desk_choices(agency)
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            with write_transaction(db.session):
                services.update_service(db.session, service, form.name_id.data,
                                        form.name_en.data, form.active.data, form.desks.data)
                record_event(db.session, "service_updated", user=current_user,
                             target=f"{code}/{service.code}",
                             details={"name_id": service.name_id, "name_en": service.name_en,
                                      "active": service.active,
                                      "desks": sorted(d.code for d in service.desks)})
        except (ValidationError, NotFound) as exc:
            errors.append(str(exc))
        else:
            return _saved(_("Service %(code)s saved.", code=service.code),
                          "admin.services_list", code=code)
    status = 422 if form.is_submitted() else 200
    return render_template("admin/service_form.html", form=form, agency=agency,
                           service=service, errors=errors), status


# --- service volumes -----------------------------------------------------------------------


@bp.route("/instansi/<code>/volume", methods=["GET", "POST"])
def volumes_grid(code: str):
    agency = require_agency(db.session, current_user, code)
    year = request.values.get("tahun", type=int) or local_today().year
    if not 2000 <= year <= 2100:
        abort(404)
    desks = list(agency.desks)
    form = forms.ActionForm()
    errors: dict[str, str] = {}
    posted: dict[str, str] = {}
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        values, errors = forms.parse_grid(request.form, desks)
        if not errors:
            with write_transaction(db.session):
                changes = volumes.save_grid(db.session, agency, desks, year, values,
                                            user=current_user)
            return _saved(_("Service volumes saved (%(n)d changed).", n=len(changes)),
                          "admin.volumes_grid", code=code, tahun=year)
        posted = {k: v for k, v in request.form.items() if k.startswith("v-")}
    stored = services.month_volumes(db.session, desks, year)
    cells = {forms.grid_name(d, m): str(v) for (d, m), v in stored.items()}
    cells.update(posted)
    locale = current_locale()
    names = [parse_period(f"{year}-{m:02d}").label(locale) for m in range(1, 13)]
    months = [(m, name.split()[0][:3], name) for m, name in enumerate(names, start=1)]
    return render_template("admin/volumes.html", agency=agency, desks=desks, year=year,
                           months=months, cells=cells, errors=errors, form=form,
                           grid_name=forms.grid_name), 422 if errors else 200


@bp.route("/volume/impor", methods=["GET", "POST"])
@csrf.exempt
def volume_import():
    large_post(UPLOAD_LIMIT)
    form = forms.UploadForm()
    errors: list[str] = []
    if form.validate_on_submit():
        upload = form.file.data
        try:
            with write_transaction(db.session):
                count = volumes.import_csv(
                    db.session, upload.read(),
                    allowed=visible_agency_ids(db.session, current_user),
                    user=current_user, filename=upload.filename)
        except ValidationError as exc:
            errors.append(str(exc))
        else:
            return _saved(_("Imported %(n)d service volumes.", n=count), "admin.volume_import")
    status = 422 if form.is_submitted() else 200
    return render_template("admin/volume_import.html", form=form, errors=errors), status


# --- users ---------------------------------------------------------------------------------


def _agency_code_choices(form: forms.UserForm) -> None:
    form.agencies.choices = forms.choices((a.code, f"{a.code} · {a.name}")
                                          for a in _all_agencies())


@bp.get("/pengguna")
def users():
    rows = db.session.scalars(select(User).options(selectinload(User.agencies))
                              .order_by(User.email)).all()
    return render_template("admin/users.html", users=rows, role_label=forms.role_label)


@bp.route("/pengguna/baru", methods=["GET", "POST"])
def user_new():
    form = forms.UserCreateForm()
    _agency_code_choices(form)
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            with write_transaction(db.session):
                user = services.create_user(db.session, form.email.data, form.password.data,
                                            form.role.data, form.agencies.data,
                                            (form.name.data or "").strip() or None)
                # Never the password, not even hashed.
                record_event(db.session, "user_created", user=current_user,
                             target=user.email,
                             details={"role": user.role, "agencies": form.agencies.data})
        except (ValidationError, NotFound) as exc:
            errors.append(str(exc))
        else:
            return _saved(_("Account %(email)s created.", email=user.email), "admin.users")
    status = 422 if form.is_submitted() else 200
    return render_template("admin/user_form.html", form=form, account=None,
                           errors=errors), status


def _account(user_id: int) -> User:
    account = db.session.get(User, user_id)
    if account is None:
        abort(404)
    return account


@bp.route("/pengguna/<int:user_id>", methods=["GET", "POST"])
def user_edit(user_id: int):
    account = _account(user_id)
    form = forms.UserEditForm(data=None if request.method == "POST" else {
        "name": account.name or "", "role": account.role, "active": account.active,
        "agencies": [a.code for a in account.agencies]})
    _agency_code_choices(form)
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            with write_transaction(db.session):
                changes = services.update_user(db.session, account, form.role.data,
                                               form.agencies.data, form.active.data,
                                               form.name.data, acting=current_user)
                if changes:
                    record_event(db.session, "user_updated", user=current_user,
                                 target=account.email,
                                 details={k: list(v) for k, v in changes.items()})
        except (ValidationError, NotFound) as exc:
            errors.append(str(exc))
        else:
            return _saved(_("Account %(email)s saved.", email=account.email), "admin.users")
    status = 422 if form.is_submitted() else 200
    return render_template("admin/user_form.html", form=form, account=account, errors=errors,
                           password_form=forms.PasswordForm(formdata=None)), status


@bp.post("/pengguna/<int:user_id>/sandi")
def user_password(user_id: int):
    account = _account(user_id)
    form = forms.PasswordForm()
    if not form.validate_on_submit():
        edit = forms.UserEditForm(data={
            "name": account.name or "", "role": account.role, "active": account.active,
            "agencies": [a.code for a in account.agencies]})
        _agency_code_choices(edit)
        return render_template("admin/user_form.html", form=edit, account=account, errors=[],
                               password_form=form), 422
    with write_transaction(db.session):
        services.set_password(db.session, account, form.password.data)
        record_event(db.session, "user_password_reset", user=current_user,
                     target=account.email)
    return _saved(_("The password of %(email)s was reset. Give it to them in person.",
                    email=account.email), "admin.user_edit", user_id=user_id)


# --- reporting periods ---------------------------------------------------------------------


@bp.route("/periode", methods=["GET", "POST"])
def periods():
    form = forms.PeriodForm()
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            with write_transaction(db.session):
                period = services.create_period(db.session, form.key.data)
                record_event(db.session, "period_created", user=current_user,
                             target=period.key)
        except ValidationError as exc:
            errors.append(str(exc))
        else:
            return _saved(_("Period %(key)s added.", key=period.key), "admin.periods")
    rows = db.session.scalars(select(ReportingPeriod)).all()
    rows = sorted(rows, key=lambda r: (parse_period(r.key).start, r.key), reverse=True)
    status = 422 if form.is_submitted() else 200
    return render_template("admin/periods.html", form=form, periods=rows, errors=errors,
                           action_form=forms.ActionForm(), parse_period=parse_period,
                           locale=current_locale()), status


def _period(period_id: int) -> ReportingPeriod:
    period = db.session.get(ReportingPeriod, period_id)
    if period is None:
        abort(404)
    return period


def _period_action(period_id: int, action, event: str, message):
    period = _period(period_id)
    if not forms.ActionForm().validate_on_submit():
        abort(400)
    key = period.key
    try:
        with write_transaction(db.session):
            action(period)
            record_event(db.session, event, user=current_user, target=key)
    except ValidationError as exc:
        flash(_("Not saved: %(reason)s", reason=str(exc)))
    else:
        flash(message(key))
    return redirect(url_for("admin.periods"), code=303)


@bp.post("/periode/<int:period_id>/tutup")
def period_close(period_id: int):
    return _period_action(
        period_id,
        lambda p: services.close_period(db.session, p, utcnow(), local_today()),
        "period_closed",
        lambda key: _("Period %(key)s closed; its results are now public.", key=key))


@bp.post("/periode/<int:period_id>/buka")
def period_reopen(period_id: int):
    return _period_action(
        period_id, lambda p: services.reopen_period(db.session, p), "period_reopened",
        lambda key: _("Period %(key)s reopened; its results are no longer public.", key=key))
