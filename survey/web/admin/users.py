"""Admin pages for staff accounts: the list, creating, editing, resetting a password
(administrators only)."""

from __future__ import annotations

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from survey.core.db import db, utcnow, write_transaction
from survey.core.errors import NotFound, ValidationError
from survey.core.models import User
from survey.core.org import users
from survey.web.access import ADMIN
from survey.web.admin import forms
from survey.web.admin.common import all_agencies, bp, form_page, saved
from survey.web.forms import ActionForm

POLICY = {
    "admin.users": ADMIN,
    "admin.user_new": ADMIN,
    "admin.user_edit": ADMIN,
    "admin.user_password": ADMIN,
    "admin.token_revoke": ADMIN,
}


def _agency_choices(form: forms.UserForm) -> None:
    form.agencies.choices = forms.choices((a.code, f"{a.code} · {a.name}")
                                          for a in all_agencies())


def _account(user_id: int) -> User:
    account = db.session.get(User, user_id)
    if account is None:
        abort(404)
    return account


def _edit_form(account: User, posted: bool) -> forms.UserEditForm:
    form = forms.UserEditForm(data=None if posted else {
        "name": account.name or "", "role": account.role, "active": account.active,
        "agencies": [a.code for a in account.agencies]})
    _agency_choices(form)
    return form


@bp.get("/pengguna", endpoint="users")
def user_list():
    rows = db.session.scalars(select(User).options(selectinload(User.agencies))
                              .order_by(User.email)).all()
    return render_template("admin/users.html", users=rows)


@bp.route("/pengguna/baru", methods=["GET", "POST"])
def user_new():
    form = forms.UserCreateForm()
    _agency_choices(form)

    def save() -> str:
        user = users.create_user(db.session, form.email.data, form.password.data,
                                 form.role.data, form.agencies.data, form.name.data,
                                 actor=current_user)
        return _("Account %(email)s created.", email=user.email)

    return form_page(form, "admin/user_form.html", save, url_for("admin.users"),
                     account=None)


@bp.route("/pengguna/<int:user_id>", methods=["GET", "POST"])
def user_edit(user_id: int):
    account = _account(user_id)
    form = _edit_form(account, posted=request.method == "POST")

    def save() -> str:
        users.update_user(db.session, account, form.role.data, form.agencies.data,
                          form.active.data, form.name.data, actor=current_user)
        return _("Account %(email)s saved.", email=account.email)

    return form_page(form, "admin/user_form.html", save, url_for("admin.users"),
                     **_account_context(account))


def _account_context(account: User) -> dict:
    """What the edit page shows beside the form: the password reset and the tokens."""
    return {"account": account, "password_form": forms.PasswordForm(formdata=None),
            "tokens": users.api_tokens(db.session, account), "action_form": ActionForm(),
            "now": utcnow()}


@bp.post("/pengguna/<int:user_id>/sandi")
def user_password(user_id: int):
    account = _account(user_id)
    form = forms.PasswordForm()
    if not form.validate_on_submit():
        return render_template("admin/user_form.html", form=_edit_form(account, posted=False),
                               errors=[], **{**_account_context(account),
                                             "password_form": form}), 422
    with write_transaction(db.session):
        users.set_password(db.session, account, form.password.data, actor=current_user)
    return saved(_("The password of %(email)s was reset. Give it to them in person.",
                   email=account.email), url_for("admin.user_edit", user_id=user_id))


@bp.post("/pengguna/<int:user_id>/token/<int:token_id>/cabut")
def token_revoke(user_id: int, token_id: int):
    account = _account(user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        with write_transaction(db.session):
            users.revoke_api_token(db.session, token_id, user=account, actor=current_user)
    except NotFound:
        abort(404)
    except ValidationError:
        pass  # already revoked: the page says so
    return saved(_("The token was revoked; programs using it are refused from now on."),
                 url_for("admin.user_edit", user_id=user_id))
