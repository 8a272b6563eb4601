"""Services (jenis layanan): what an agency offers, at some of its desks. A citizen picks
the service they received; the dashboard reports an index per service."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.core.audit import Actor, record_event
from survey.core.errors import ValidationError
from survey.core.models import Desk, Service
from survey.core.org.agencies import get_agency
from survey.core.org.checks import check_code, check_name, optional_text
from survey.core.org.desks import get_desk, own_objects


def create_service(
    session: Session,
    agency_code: str,
    code: str,
    name_id: str,
    name_en: str | None = None,
    desk_codes: Iterable[str] = (),
    active: bool = True,
    *,
    actor: Actor,
) -> Service:
    agency = get_agency(session, agency_code)
    code = check_code(code, "service")
    name_id = check_name(name_id, "service")
    exists = session.scalar(
        select(Service.id).where(Service.agency_id == agency.id, Service.code == code)
    )
    if exists is not None:
        raise ValidationError(f"agency {agency.code} already has a service {code}",
                              code="service_exists", agency=agency.code, service=code)
    desks = [get_desk(session, agency.code, d) for d in desk_codes]
    service = Service(agency=agency, code=code, name_id=name_id,
                      name_en=optional_text(name_en), desks=desks, active=bool(active))
    session.add(service)
    session.flush()
    record_event(session, "service_created", actor, target=f"{agency.code}/{service.code}",
                 details=_details(service))
    return service


def update_service(
    session: Session,
    service: Service,
    name_id: str,
    name_en: str | None,
    active: bool,
    desk_ids: Iterable[int],
    *,
    actor: Actor,
) -> None:
    """Edit a service; an inactive one is no longer offered on the citizen form but keeps
    its responses. Its code is permanent (imports name it)."""
    service.name_id = check_name(name_id, "service")
    service.name_en = optional_text(name_en, 200)
    service.active = bool(active)
    service.desks = own_objects(session, Desk, service.agency_id, desk_ids, "desk")
    session.flush()
    record_event(session, "service_updated", actor,
                 target=f"{service.agency.code}/{service.code}", details=_details(service))


def _details(service: Service) -> dict:
    return {"name_id": service.name_id, "name_en": service.name_en, "active": service.active,
            "desks": sorted(d.code for d in service.desks)}
