"""Staff accounts: session loading (the sign-in pages live in auth.views). A session
names the user and their session version; when the version has moved on (logout,
password change or reset, role change, deactivation) the session is over."""

from __future__ import annotations

import re

from survey.core.db import db
from survey.core.models import User
from survey.web.extensions import login_manager

_SESSION_ID = re.compile(r"(\d{1,10})\.(\d{1,10})")


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    match = _SESSION_ID.fullmatch(session_id)
    if match is None:
        return None
    user = db.session.get(User, int(match.group(1)))
    if user is None or not user.active or user.session_version != int(match.group(2)):
        return None
    return user
