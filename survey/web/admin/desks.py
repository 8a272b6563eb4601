"""Admin pages for an agency's desks: the list with survey links, creating and editing a
desk, opening or closing it, and giving it a new survey link."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from survey.core.db import db, write_transaction
from survey.core.models import Agency, Desk, Questionnaire
from survey.core.org import desks
from survey.web.access import MANAGERS
from survey.web.admin import forms
from survey.web.admin.common import agency, bp, form_page, owned, saved
from survey.web.forms import ActionForm
from survey.web.i18n import current_locale
from survey.web.urls import survey_url

POLICY = {
    "admin.desks": MANAGERS,
    "admin.desk_new": MANAGERS,
    "admin.desk_edit": MANAGERS,
    "admin.desk_status": MANAGERS,
    "admin.desk_slug": MANAGERS,
}


def _service_choices(item: Agency) -> list:
    return forms.choices(
        (s.id, f"{s.code} · {s.name_id}" + ("" if s.active else f" ({_('not offered')})"))
        for s in item.services)


@bp.get("/instansi/<code>/loket", endpoint="desks")
def desk_list(code: str):
    item = agency(code)
    return render_template("admin/desks.html", agency=item, desks=item.desks,
                           survey_url=survey_url, locale=current_locale())


@bp.route("/instansi/<code>/loket/baru", methods=["GET", "POST"])
def desk_new(code: str):
    item = agency(code)
    form = forms.DeskCreateForm()
    locale = current_locale()
    form.questionnaire.choices = forms.choices(
        (q.code, q.title_en if locale == "en" else q.title_id)
        for q in db.session.scalars(select(Questionnaire).order_by(Questionnaire.id)))
    form.services.choices = _service_choices(item)

    def save() -> str:
        created = desks.create_desk(db.session, code, form.code.data, form.name.data,
                                    form.location.data, form.questionnaire.data,
                                    form.services.data, actor=current_user)
        return _("Desk %(code)s created.", code=created.code)

    return form_page(form, "admin/desk_form.html", save, url_for("admin.desks", code=code),
                     agency=item, desk=None)


@bp.route("/instansi/<code>/loket/<int:desk_id>", methods=["GET", "POST"])
def desk_edit(code: str, desk_id: int):
    item = agency(code)
    desk = owned(Desk, desk_id, item)
    form = forms.DeskForm(data=None if request.method == "POST" else {
        "name": desk.name, "location": desk.location or "",
        "services": [s.id for s in desk.services]})
    form.services.choices = _service_choices(item)

    def save() -> str:
        desks.update_desk(db.session, desk, form.name.data, form.location.data,
                          form.services.data, actor=current_user)
        return _("Desk %(code)s saved.", code=desk.code)

    return form_page(form, "admin/desk_form.html", save, url_for("admin.desks", code=code),
                     agency=item, desk=desk, status_form=ActionForm(),
                     slug_form=forms.SlugForm(), survey_url=survey_url)


@bp.post("/instansi/<code>/loket/<int:desk_id>/status")
def desk_status(code: str, desk_id: int):
    desk = owned(Desk, desk_id, agency(code))
    if not ActionForm().validate_on_submit():
        abort(400)
    active = request.form.get("active") == "1"
    with write_transaction(db.session):
        desks.set_desk_active(db.session, desk, active, actor=current_user)
    message = (_("Desk %(code)s is open again; its survey link works.", code=desk.code)
               if active else
               _("Desk %(code)s is closed; its survey link now says it no longer takes "
                 "responses.", code=desk.code))
    return saved(message, url_for("admin.desk_edit", code=code, desk_id=desk_id))


@bp.post("/instansi/<code>/loket/<int:desk_id>/tautan")
def desk_slug(code: str, desk_id: int):
    desk = owned(Desk, desk_id, agency(code))
    if not forms.SlugForm().validate_on_submit():
        flash(_("The link was not changed: tick the box to confirm that printed QR codes "
                "will stop working."), "error")
        return redirect(url_for("admin.desk_edit", code=code, desk_id=desk_id), code=303)
    with write_transaction(db.session):
        desks.regenerate_slug(db.session, desk, actor=current_user)
    return saved(_("Desk %(code)s has a new survey link. Print its new QR poster.",
                   code=desk.code), url_for("admin.desk_edit", code=code, desk_id=desk_id))
