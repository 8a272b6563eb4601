"""Staff accounts: session loading (the login pages live in auth.views)."""

from __future__ import annotations

from survey.core.db import db
from survey.core.models import User
from survey.web.extensions import login_manager


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.active else None
