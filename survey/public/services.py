"""Read queries for the public pages."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..models import Agency, Desk


def agency_directory(session: Session) -> list[Agency]:
    """Every agency with its active desks, parents first, for the home page."""
    agencies = session.scalars(
        select(Agency)
        .options(selectinload(Agency.desks), selectinload(Agency.children))
        .order_by(Agency.code)
    ).all()
    return [a for a in agencies if a.parent_id is None]


def active_desks(agency: Agency) -> list[Desk]:
    return [d for d in agency.desks if d.active]
