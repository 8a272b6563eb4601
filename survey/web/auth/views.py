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
from flask_login import login_user, logout_user
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from survey.core.audit import record_event
from survey.core.db import db, write_transaction
from survey.core.models import User
from survey.web.access import AUTHENTICATED, PUBLIC
from survey.web.auth.forms import LoginForm
from survey.web.extensions import limiter
from survey.web.i18n import safe_next

bp = Blueprint("auth", __name__, url_prefix="/auth")

POLICY = {"auth.login": PUBLIC, "auth.logout": AUTHENTICATED}

# Compared against when the e-mail is unknown, so that a failed login takes the same time
# whether or not the account exists.
_DUMMY_HASH = generate_password_hash("not a real password")


def _email_key() -> str:
    return "login:" + (request.form.get("email") or "").strip().lower()


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config.get("LOGIN_RATE_LIMIT", "10 per minute"),
               methods=["POST"])
@limiter.limit(lambda: current_app.config.get("LOGIN_ACCOUNT_LIMIT", "30 per hour"),
               methods=["POST"], key_func=_email_key)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.scalar(select(User).where(func.lower(User.email) == email))
        valid = check_password_hash(user.password_hash if user else _DUMMY_HASH,
                                    form.password.data)
        with write_transaction(db.session):
            if user is not None and valid and user.active:
                record_event(db.session, "login", user)
            else:
                record_event(db.session, "login_failed", None, actor_name=email[:254])
        if user is not None and valid and user.active:
            login_user(user)
            session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME
            return redirect(safe_next(request.args.get("next"), url_for("desks.index")))
        form.password.errors.append(_("Wrong e-mail or password."))
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
def logout():
    logout_user()
    flash(_("You are signed out."))
    return redirect(url_for("respond.home"), code=303)
