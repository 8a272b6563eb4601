"""Admin pages for service volumes (citizens served, the survey's population): the year
grid of an agency's desks, and the CSV import."""

from __future__ import annotations

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from survey.core.db import db, write_transaction
from survey.core.org import volumes
from survey.core.periods import local_today, parse_period
from survey.web.access import MANAGERS, visible_agency_ids
from survey.web.admin import forms
from survey.web.admin.common import agency, bp, saved
from survey.web.extensions import csrf
from survey.web.forms import ActionForm
from survey.web.i18n import current_locale
from survey.web.uploads import upload_page

POLICY = {
    "admin.volumes_grid": MANAGERS,
    "admin.volume_import": MANAGERS,
}


@bp.route("/instansi/<code>/volume", methods=["GET", "POST"])
def volumes_grid(code: str):
    item = agency(code)
    year = request.values.get("tahun", type=int) or local_today(item.timezone).year
    if not 2000 <= year <= 2100:
        abort(404)
    desks = list(item.desks)
    form = ActionForm()
    errors: dict[str, str] = {}
    posted: dict[str, str] = {}
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        values, errors = forms.parse_grid(request.form, desks)
        if not errors:
            with write_transaction(db.session):
                changes = volumes.save_grid(db.session, item, desks, year, values,
                                            actor=current_user)
            return saved(_("Service volumes saved (%(n)d changed).", n=len(changes)),
                         url_for("admin.volumes_grid", code=code, tahun=year))
        posted = {k: v for k, v in request.form.items() if k.startswith("v-")}
    stored = volumes.month_volumes(db.session, desks, year)
    cells = {forms.grid_name(d, m): str(v) for (d, m), v in stored.items()}
    cells.update(posted)
    locale = current_locale()
    names = [parse_period(f"{year}-{m:02d}").label(locale) for m in range(1, 13)]
    months = [(m, name.split()[0][:3], name) for m, name in enumerate(names, start=1)]
    return render_template("admin/volumes.html", agency=item, desks=desks, year=year,
                           months=months, cells=cells, errors=errors, form=form,
                           grid_name=forms.grid_name), 422 if errors else 200


@bp.route("/volume/impor", methods=["GET", "POST"])
@csrf.exempt
def volume_import():
    def store(data: bytes, filename: str | None) -> str:
        count = volumes.import_csv(db.session, data,
                                   allowed=visible_agency_ids(db.session, current_user),
                                   actor=current_user, filename=filename)
        return _("Imported %(n)d service volumes.", n=count)

    return upload_page("admin/volume_import.html", store, url_for("admin.volume_import"))
