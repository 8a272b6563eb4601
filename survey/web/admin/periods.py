"""Admin page for reporting periods: add one, close it (which publishes its results), or
reopen it (administrators only)."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from survey.core.db import db, utcnow, write_transaction
from survey.core.errors import ValidationError
from survey.core.models import ReportingPeriod
from survey.core.org import periods
from survey.core.periods import local_today, parse_period
from survey.core.results import published
from survey.web.access import ADMIN
from survey.web.admin import forms
from survey.web.admin.common import bp, form_page
from survey.web.forms import ActionForm
from survey.web.i18n import current_locale, site_timezone
from survey.web.messages import message_for

POLICY = {
    "admin.periods": ADMIN,
    "admin.period_close": ADMIN,
    "admin.period_reopen": ADMIN,
}


@bp.route("/periode", methods=["GET", "POST"], endpoint="periods")
def period_list():
    form = forms.PeriodForm()

    def save() -> str:
        row = periods.create_period(db.session, form.key.data, actor=current_user)
        return _("Period %(key)s added.", key=row.key)

    rows = sorted(db.session.scalars(select(ReportingPeriod)).all(),
                  key=lambda r: (parse_period(r.key).start, r.key), reverse=True)
    return form_page(form, "admin/periods.html", save, url_for("admin.periods"),
                     periods=rows, action_form=ActionForm(), reopen_form=forms.ReopenForm(),
                     parse_period=parse_period,
                     locale=current_locale())


def _period_action(period_id: int, action: Callable[[ReportingPeriod], None],
                   message: Callable[[str], str], form: FlaskForm | None = None):
    period = db.session.get(ReportingPeriod, period_id)
    if period is None:
        abort(404)
    form = form or ActionForm()
    if not form.validate_on_submit():
        if not form.csrf_token.errors:  # a field the form checks (the reason)
            flash(_("Not saved: %(reason)s", reason=" ".join(
                str(e) for errors in form.errors.values() for e in errors)), "error")
            return redirect(url_for("admin.periods"), code=303)
        abort(400)
    key = period.key
    try:
        with write_transaction(db.session):
            action(period)
    except ValidationError as exc:
        flash(_("Not saved: %(reason)s", reason=message_for(exc)), "error")
    else:
        flash(message(key))
    return redirect(url_for("admin.periods"), code=303)


@bp.post("/periode/<int:period_id>/tutup")
def period_close(period_id: int):
    return _period_action(
        period_id,
        lambda p: published.close_period(db.session, p, utcnow(),
                                         local_today(site_timezone()), actor=current_user),
        lambda key: _("Period %(key)s closed; its results are now public.", key=key))


@bp.post("/periode/<int:period_id>/buka")
def period_reopen(period_id: int):
    form = forms.ReopenForm()
    return _period_action(
        period_id,
        lambda p: published.reopen_period(db.session, p, form.reason.data, utcnow(),
                                          actor=current_user),
        lambda key: _("Period %(key)s reopened; its results are no longer public. Once "
                      "closed again, the public page says they were revised.", key=key),
        form)
