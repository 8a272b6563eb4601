"""Agencies and their hierarchy (a Mal Pelayanan Publik above its tenant agencies, a
regency above its OPDs). `children_map` + `descendants` is the one walk of the hierarchy:
access scoping, the results of a parent agency and the parent choice on the edit page all
use it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.core.audit import Actor, record_event
from survey.core.errors import NotFound, ValidationError
from survey.core.models import Agency
from survey.core.org.checks import check_code, check_name, check_nip, check_timezone, optional_text

Children = dict[int | None, list[tuple[int, str]]]  # parent id -> [(agency id, code)]


def get_agency(session: Session, code: str) -> Agency:
    agency = session.scalar(select(Agency).where(Agency.code == code))
    if agency is None:
        raise NotFound(f"no agency with code {code!r}", code="no_agency", agency=str(code)[:40])
    return agency


def children_map(session: Session) -> Children:
    """Every agency under its parent (None: the top level), in one query."""
    children: Children = defaultdict(list)
    for agency_id, parent_id, code in session.execute(
            select(Agency.id, Agency.parent_id, Agency.code)):
        children[parent_id].append((agency_id, code))
    return children


def descendants(children: Children, root: int) -> list[int]:
    """The agency and every agency below it, depth first in code order (root first)."""
    out: list[int] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        out.append(current)
        stack.extend(i for i, _code in sorted(children.get(current, ()), key=lambda c: c[1],
                                               reverse=True))
    return out


def descendant_ids(session: Session, roots: Iterable[int]) -> set[int]:
    """The given agencies and every agency below any of them."""
    children = children_map(session)
    return {i for root in roots for i in descendants(children, root)}


def create_agency(
    session: Session,
    code: str,
    name: str,
    parent_code: str | None = None,
    timezone: str = "Asia/Jakarta",
    head_name: str | None = None,
    head_nip: str | None = None,
    *,
    actor: Actor,
) -> Agency:
    code = check_code(code, "agency")
    name = check_name(name, "agency")
    if session.scalar(select(Agency.id).where(Agency.code == code)) is not None:
        raise ValidationError(f"agency {code} already exists", code="agency_exists",
                              agency=code)
    timezone = check_timezone(timezone)
    parent = get_agency(session, parent_code) if parent_code else None
    agency = Agency(code=code, name=name, parent=parent, timezone=timezone,
                    head_name=optional_text(head_name), head_nip=check_nip(head_nip))
    session.add(agency)
    session.flush()
    record_event(session, "agency_created", actor, target=agency.code,
                 details={"name": agency.name, "parent": parent.code if parent else None})
    return agency


def update_agency(
    session: Session,
    agency: Agency,
    name: str,
    parent_code: str | None,
    timezone: str,
    head_name: str | None,
    head_nip: str | None,
    *,
    actor: Actor,
) -> dict[str, tuple[object, object]]:
    """Edit an agency; its code is permanent (URLs, exports and imports name it). A parent
    must not lie below the agency itself, or the roll-up would loop. Returns the changes
    (field -> (old, new)), which the audit event lists."""
    name = check_name(name, "agency")
    timezone = check_timezone(timezone)
    nip = check_nip(head_nip)
    parent = get_agency(session, parent_code) if parent_code else None
    if parent is not None and parent.id in descendant_ids(session, [agency.id]):
        own = parent.id == agency.id
        raise ValidationError(
            f"agency {parent.code} cannot be the parent of {agency.code}: "
            + ("an agency cannot be its own parent" if own
               else f"{parent.code} lies below {agency.code}"),
            code="own_parent" if own else "parent_below", parent=parent.code,
            agency=agency.code,
        )
    new = {"name": name, "parent": parent.code if parent else None, "timezone": timezone,
           "head_name": optional_text(head_name), "head_nip": nip}
    old = {"name": agency.name, "parent": agency.parent.code if agency.parent else None,
           "timezone": agency.timezone, "head_name": agency.head_name,
           "head_nip": agency.head_nip}
    agency.name, agency.parent, agency.timezone = name, parent, timezone
    agency.head_name, agency.head_nip = new["head_name"], nip
    session.flush()
    changes = {k: (old[k], new[k]) for k in new if old[k] != new[k]}
    if changes:
        record_event(session, "agency_updated", actor, target=agency.code,
                     details={k: list(v) for k, v in changes.items()})
    return changes
