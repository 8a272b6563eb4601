"""Admin pages for agencies: the overview of everything a user manages, the agency list,
and creating and editing agencies (administrators only)."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from survey.core.db import db
from survey.core.org import agencies
from survey.web.access import ADMIN, MANAGERS, filter_visible
from survey.web.admin import forms
from survey.web.admin.common import agency, agency_tree, all_agencies, bp, form_page

POLICY = {
    "admin.index": MANAGERS,
    "admin.agencies": ADMIN,
    "admin.agency_new": ADMIN,
    "admin.agency_edit": ADMIN,
}


@bp.get("/")
def index():
    roots, children = agency_tree(filter_visible(db.session, current_user, all_agencies()))
    return render_template("admin/index.html", roots=roots, children=children,
                           is_admin=current_user.role == "admin")


@bp.get("/instansi", endpoint="agencies")
def agencies_list():
    roots, children = agency_tree(all_agencies())
    return render_template("admin/agencies.html", roots=roots, children=children)


def _parent_choices(form: forms.AgencyForm, exclude: set[int] = frozenset()) -> None:
    form.parent.choices = forms.choices([("", _("— none (top level) —"))] + [
        (a.code, f"{a.code} · {a.name}") for a in all_agencies() if a.id not in exclude])


@bp.route("/instansi/baru", methods=["GET", "POST"])
def agency_new():
    form = forms.AgencyCreateForm()
    _parent_choices(form)

    def save() -> str:
        created = agencies.create_agency(
            db.session, form.code.data, form.name.data, form.parent.data or None,
            form.timezone.data, form.head_name.data, form.head_nip.data, actor=current_user)
        return _("Agency %(code)s created.", code=created.code)

    return form_page(form, "admin/agency_form.html", save, url_for("admin.agencies"),
                     agency=None)


@bp.route("/instansi/<code>/ubah", methods=["GET", "POST"])
def agency_edit(code: str):
    item = agency(code)
    form = forms.AgencyForm(data=None if request.method == "POST" else {
        "name": item.name, "parent": item.parent.code if item.parent else "",
        "timezone": item.timezone, "head_name": item.head_name or "",
        "head_nip": item.head_nip or ""})
    # Neither the agency itself nor anything below it can become its parent.
    _parent_choices(form, exclude=agencies.descendant_ids(db.session, [item.id]))
    if item.timezone not in dict(forms.TIMEZONES):
        form.timezone.choices = forms.choices([*forms.TIMEZONES,
                                               (item.timezone, item.timezone)])

    def save() -> str:
        agencies.update_agency(db.session, item, form.name.data, form.parent.data or None,
                               form.timezone.data, form.head_name.data, form.head_nip.data,
                               actor=current_user)
        return _("Agency %(code)s saved.", code=code)

    return form_page(form, "admin/agency_form.html", save, url_for("admin.agencies"),
                     agency=item)
