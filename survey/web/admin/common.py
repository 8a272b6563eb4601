"""What every admin page shares: the blueprint, the one create/edit page flow, lookups
scoped to what the signed-in user may see, and the agency tree of the lists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from survey.core.db import db, write_transaction
from survey.core.errors import NotFound, ValidationError
from survey.core.models import Agency
from survey.web.access import require_agency
from survey.web.messages import message_for

bp = Blueprint("admin", __name__, url_prefix="/admin")


def saved(message: str, url: str):
    """After a change: say what happened on the next page (POST-redirect-GET)."""
    flash(message)
    return redirect(url, code=303)


def form_page(form: FlaskForm, template: str, save: Callable[[], str], done: str,
              **context: Any):
    """The create/edit flow of every admin form: GET shows the form; a valid POST runs
    `save` in one write transaction (which writes its audit event) and redirects to
    `done` with the message `save` returns; a domain error (a duplicate code, a parent
    loop) is shown on the form, which keeps what was typed (422)."""
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            with write_transaction(db.session):
                message = save()
        except ValidationError as exc:
            errors.append(message_for(exc))
        except NotFound as exc:
            errors.append(message_for(exc))
        else:
            return saved(message, done)
    status = 422 if form.is_submitted() else 200
    return render_template(template, form=form, errors=errors, **context), status


def agency(code: str) -> Agency:
    """The agency if the signed-in user may manage it, else 404."""
    return require_agency(db.session, current_user, code)


def owned(model: Any, object_id: int, agency: Agency) -> Any:
    """A desk or service of this agency, else 404 (never another agency's)."""
    found = db.session.get(model, object_id)
    if found is None or found.agency_id != agency.id:
        abort(404)
    return found


def all_agencies() -> list[Agency]:
    return list(db.session.scalars(select(Agency).order_by(Agency.code)))


def agency_tree(agencies: list[Agency]) -> tuple[list[Agency], dict[int, list[Agency]]]:
    """Roots and children among the given agencies (a child whose parent is not listed is
    a root), for the nested lists."""
    ids = {a.id for a in agencies}
    children: dict[int, list[Agency]] = {}
    roots = []
    for item in agencies:
        if item.parent_id in ids:
            children.setdefault(item.parent_id, []).append(item)
        else:
            roots.append(item)
    return roots, children
