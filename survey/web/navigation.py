"""Where each role works: the staff menu and the page a role lands on after signing in.

One table, so the menu, the landing page and their tests never disagree."""

from __future__ import annotations

from flask import url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

# (endpoint, label, roles) in menu order. The first entry a role may open is its landing
# page: managers their dashboard, administrators the administration, auditors the
# exports, desk staff their desks.
MENU = (
    ("dashboard.index", _l("Dashboard"), ("agency_manager",)),
    ("admin.index", _l("Administration"), ("admin",)),
    ("audit.index", _l("Exports"), ("auditor",)),
    ("desks.index", _l("Desks"), ("desk_staff",)),
    ("dashboard.index", _l("Dashboard"), ("admin", "auditor")),
    ("audit.index", _l("Exports"), ("admin", "agency_manager")),
    ("desks.index", _l("Desks"), ("admin", "agency_manager")),
    ("paper.index", _l("Paper questionnaires"), ("admin", "agency_manager", "desk_staff")),
    ("admin.index", _l("Administration"), ("agency_manager",)),
    ("audit.log", _l("Audit log"), ("admin", "auditor")),
)



def staff_menu(role: str | None = None) -> list[tuple[str, str]]:
    """The menu of the signed-in user (or of `role`): (endpoint, label) pairs."""
    role = role or current_user.role
    return [(endpoint, str(label)) for endpoint, label, roles in MENU if role in roles]


def landing_url(role: str) -> str:
    """Where `role` starts its day."""
    return url_for(staff_menu(role)[0][0])

