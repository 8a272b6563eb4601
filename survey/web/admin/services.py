"""Admin pages for an agency's services (jenis layanan): the list, creating and editing."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from survey.core.db import db
from survey.core.models import Agency, Service
from survey.core.org import services
from survey.web.access import MANAGERS
from survey.web.admin import forms
from survey.web.admin.common import agency, bp, form_page, owned

POLICY = {
    "admin.services_list": MANAGERS,
    "admin.service_new": MANAGERS,
    "admin.service_edit": MANAGERS,
}


def _desk_choices(item: Agency) -> list:
    return forms.choices((d.id, f"{d.code} · {d.name}") for d in item.desks)


@bp.get("/instansi/<code>/layanan")
def services_list(code: str):
    item = agency(code)
    return render_template("admin/services.html", agency=item, services=item.services)


@bp.route("/instansi/<code>/layanan/baru", methods=["GET", "POST"])
def service_new(code: str):
    item = agency(code)
    form = forms.ServiceCreateForm()
    form.desks.choices = _desk_choices(item)

    def save() -> str:
        chosen = set(form.desks.data)
        created = services.create_service(
            db.session, code, form.code.data, form.name_id.data, form.name_en.data,
            [d.code for d in item.desks if d.id in chosen], form.active.data,
            actor=current_user)
        return _("Service %(code)s created.", code=created.code)

    return form_page(form, "admin/service_form.html", save,
                     url_for("admin.services_list", code=code), agency=item, service=None)


@bp.route("/instansi/<code>/layanan/<int:service_id>", methods=["GET", "POST"])
def service_edit(code: str, service_id: int):
    item = agency(code)
    service = owned(Service, service_id, item)
    form = forms.ServiceForm(data=None if request.method == "POST" else {
        "name_id": service.name_id, "name_en": service.name_en or "",
        "active": service.active, "desks": [d.id for d in service.desks]})
    form.desks.choices = _desk_choices(item)

    def save() -> str:
        services.update_service(db.session, service, form.name_id.data, form.name_en.data,
                                form.active.data, form.desks.data, actor=current_user)
        return _("Service %(code)s saved.", code=service.code)

    return form_page(form, "admin/service_form.html", save,
                     url_for("admin.services_list", code=code), agency=item,
                     service=service)
