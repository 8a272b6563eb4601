"""Service desks (loket): each with its own unguessable survey link, the services offered
there, and an optional API key for the queue system that prints visit tickets."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from survey.core.audit import Actor, record_event
from survey.core.errors import NotFound, ValidationError
from survey.core.models import Agency, Desk, Questionnaire, Service, new_slug
from survey.core.org.agencies import get_agency
from survey.core.org.checks import check_code, check_name, optional_text

DEFAULT_QUESTIONNAIRE = "permenpan-14-2017"


def get_desk(session: Session, agency_code: str, desk_code: str) -> Desk:
    agency = get_agency(session, agency_code)
    desk = session.scalar(select(Desk).where(Desk.agency_id == agency.id, Desk.code == desk_code))
    if desk is None:
        raise NotFound(f"agency {agency_code} has no desk with code {desk_code!r}",
                       code="unknown_desk", agency=agency_code, desk=desk_code)
    return desk


def get_questionnaire(session: Session, code: str) -> Questionnaire:
    questionnaire = session.scalar(select(Questionnaire).where(Questionnaire.code == code))
    if questionnaire is None:
        raise NotFound(f"no questionnaire {code!r}; run `flask init` to seed the standards",
                       code="no_questionnaire", questionnaire=code)
    return questionnaire


def desks_of(session: Session, agency_ids: set[int] | None) -> list[Desk]:
    """The desks of these agencies (None: all), with their agency, by agency and code."""
    query = (select(Desk).join(Agency).options(selectinload(Desk.agency))
             .order_by(Agency.code, Desk.code))
    if agency_ids is not None:
        query = query.where(Desk.agency_id.in_(agency_ids))
    return list(session.scalars(query))


def own_objects(session: Session, model, agency_id: int, ids: Iterable[int], what: str):
    """The objects with these ids, all of one agency (desks of a service, services of a
    desk), sorted by code; ValidationError if any is missing or another agency's."""
    wanted = set(ids)
    if not wanted:
        return []
    found = list(session.scalars(select(model).where(model.id.in_(wanted))))
    if len(found) != len(wanted) or any(o.agency_id != agency_id for o in found):
        raise ValidationError(f"every {what} must belong to the same agency",
                              code="other_agency", what=what)
    return sorted(found, key=lambda o: o.code)


def create_desk(
    session: Session,
    agency_code: str,
    code: str,
    name: str,
    location: str | None = None,
    questionnaire_code: str = DEFAULT_QUESTIONNAIRE,
    service_ids: Iterable[int] = (),
    *,
    actor: Actor,
) -> Desk:
    agency = get_agency(session, agency_code)
    code = check_code(code, "desk")
    name = check_name(name, "desk")
    exists = session.scalar(select(Desk.id).where(Desk.agency_id == agency.id, Desk.code == code))
    if exists is not None:
        raise ValidationError(f"agency {agency.code} already has a desk {code}",
                              code="desk_exists", agency=agency.code, desk=code)
    questionnaire = get_questionnaire(session, questionnaire_code)
    desk = Desk(agency=agency, code=code, name=name, location=optional_text(location),
                questionnaire=questionnaire,
                services=own_objects(session, Service, agency.id, service_ids, "service"))
    session.add(desk)
    session.flush()
    record_event(session, "desk_created", actor, target=f"{agency.code}/{desk.code}",
                 details={"name": desk.name, "questionnaire": questionnaire.code,
                          "services": [s.code for s in desk.services]})
    return desk


def update_desk(session: Session, desk: Desk, name: str, location: str | None,
                service_ids: Iterable[int], *, actor: Actor) -> None:
    """Edit a desk's name, location and services. Its code and questionnaire stay:
    responses and exports refer to them."""
    desk.name = check_name(name, "desk")
    desk.location = optional_text(location, 200)
    desk.services = own_objects(session, Service, desk.agency_id, service_ids, "service")
    session.flush()
    record_event(session, "desk_updated", actor, target=f"{desk.agency.code}/{desk.code}",
                 details={"name": desk.name, "location": desk.location,
                          "services": [s.code for s in desk.services]})


def set_desk_active(session: Session, desk: Desk, active: bool, *, actor: Actor) -> bool:
    """Open or close a desk; a closed desk's survey link answers 410. Returns whether
    anything changed (only a change is an audit event)."""
    changed = desk.active != active
    desk.active = active
    session.flush()
    if changed:
        record_event(session, "desk_activated" if active else "desk_deactivated", actor,
                     target=f"{desk.agency.code}/{desk.code}")
    return changed


def regenerate_slug(session: Session, desk: Desk, *, actor: Actor) -> None:
    """Give the desk a new public link (e.g. after a poster was misused); the old link and
    every printed QR code pointing at it stop working. The old slug is not logged: it would
    keep a dead link findable for misuse."""
    desk.slug = new_slug()
    session.flush()
    record_event(session, "desk_slug_regenerated", actor,
                 target=f"{desk.agency.code}/{desk.code}")


def new_api_key(session: Session, desk: Desk, *, actor: Actor) -> str:
    """Give the desk a new API key for queue systems (shown once; only its hash is kept;
    the previous key stops working)."""
    key = "skm_" + secrets.token_urlsafe(24)
    desk.api_key_hash = api_key_hash(key)
    session.flush()
    record_event(session, "desk_api_key", actor, target=f"{desk.agency.code}/{desk.code}")
    return key


def api_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def desk_by_api_key(session: Session, key: str) -> Desk | None:
    if not key:
        return None
    return session.scalar(select(Desk).where(Desk.api_key_hash == api_key_hash(key))
                          .options(selectinload(Desk.agency)))
