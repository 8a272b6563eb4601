"""Staff sign-in. Citizens never sign in: the survey is anonymous."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user

from survey.core.db import db, write_transaction
from survey.core.errors import ValidationError
from survey.core.org import users
from survey.web.access import AUTHENTICATED, PUBLIC
from survey.web.auth.forms import ChangePasswordForm, LoginForm
from survey.web.extensions import limiter
from survey.web.i18n import safe_next
from survey.web.messages import message_for
from survey.web.navigation import landing_url

bp = Blueprint("auth", __name__, url_prefix="/auth")

POLICY = {"auth.login": PUBLIC, "auth.logout": AUTHENTICATED, "auth.password": AUTHENTICATED,
          "auth.landing": AUTHENTICATED}

def _address_and_account() -> str:
    """A sign-in throttle per (address, account): a stranger elsewhere who tries a
    colleague's account slows only themselves; the colleague still signs in."""
    email = (request.form.get("email") or "").strip().lower()
    return f"login:{get_remote_address()}:{email}"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config.get("LOGIN_RATE_LIMIT", "10 per minute"),
               methods=["POST"])
@limiter.limit(lambda: current_app.config.get("LOGIN_ACCOUNT_LIMIT", "30 per hour"),
               methods=["POST"], key_func=_address_and_account)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        with write_transaction(db.session):
            user = users.authenticate(db.session, form.email.data, form.password.data)
        if user is not None:
            login_user(user)
            session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME
            return redirect(safe_next(request.args.get("next"), landing_url(user.role)))
        form.password.errors.append(_("Wrong e-mail or password."))
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form)


@bp.get("/")
def landing():
    """The signed-in user's start page, by role (the brand link of staff pages)."""
    return redirect(landing_url(current_user.role))


@bp.post("/logout")
def logout():
    with write_transaction(db.session):
        users.sign_out(db.session, current_user)
    logout_user()
    flash(_("You are signed out."))
    return redirect(url_for("respond.home"), code=303)


@bp.route("/sandi", methods=["GET", "POST"])
def password():
    """A signed-in user changes their own password; their other sessions end."""
    form = ChangePasswordForm()
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            with write_transaction(db.session):
                users.change_own_password(db.session, current_user, form.current.data,
                                          form.new.data)
        except ValidationError as exc:
            errors.append(message_for(exc))
        else:
            user = current_user._get_current_object()  # the user, not the proxy to it
            login_user(user)  # this session continues, under the new version
            session.permanent = True
            flash(_("Your password was changed. Other sessions were signed out."))
            return redirect(landing_url(user.role), code=303)
    status = 422 if form.is_submitted() else 200
    return render_template("auth/password.html", form=form, errors=errors), status
