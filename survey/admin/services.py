"""Write operations on the organisation: agencies, desks, services, users, volumes, periods.

Shared by the `flask` commands and the admin pages. Each function validates its input
and raises ValidationError / NotFound with a message fit for the user; the caller commits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from ..errors import NotFound, ValidationError
from ..models import (
    CODE_PATTERN,
    ROLES,
    Agency,
    Desk,
    Questionnaire,
    ReportingPeriod,
    Service,
    ServiceVolume,
    User,
    new_slug,
)
from ..periods import PeriodError, parse_period

_CODE = re.compile(CODE_PATTERN)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10
MAX_COUNT = 2**31 - 1  # the volume column is a 32-bit integer


def check_code(code: str, what: str) -> str:
    code = (code or "").strip()
    if not _CODE.fullmatch(code):
        raise ValidationError(
            f"{what} code {code!r} is invalid: use 1-40 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return code


def check_name(name: str, what: str, limit: int = 200) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError(f"{what} name must not be empty")
    if len(name) > limit:
        raise ValidationError(f"{what} name is longer than {limit} characters")
    return name


def check_timezone(timezone: str) -> str:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone {timezone!r} (e.g. Asia/Jakarta)") from None
    return timezone


def check_nip(head_nip: str | None) -> str | None:
    """The head of unit's NIP (18 digits, spaces allowed when typed), or None."""
    nip = (head_nip or "").replace(" ", "")
    if nip and not re.fullmatch(r"\d{18}", nip):
        raise ValidationError("NIP must have 18 digits")
    return nip or None


def get_agency(session: Session, code: str) -> Agency:
    agency = session.scalar(select(Agency).where(Agency.code == code))
    if agency is None:
        raise NotFound(f"no agency with code {code!r}")
    return agency


def get_desk(session: Session, agency_code: str, desk_code: str) -> Desk:
    agency = get_agency(session, agency_code)
    desk = session.scalar(select(Desk).where(Desk.agency_id == agency.id, Desk.code == desk_code))
    if desk is None:
        raise NotFound(f"agency {agency_code} has no desk with code {desk_code!r}")
    return desk


def get_questionnaire(session: Session, code: str) -> Questionnaire:
    questionnaire = session.scalar(select(Questionnaire).where(Questionnaire.code == code))
    if questionnaire is None:
        raise NotFound(f"no questionnaire {code!r}; run `flask init` to seed the standards")
    return questionnaire


def create_agency(
    session: Session,
    code: str,
    name: str,
    parent_code: str | None = None,
    timezone: str = "Asia/Jakarta",
    head_name: str | None = None,
    head_nip: str | None = None,
) -> Agency:
    code = check_code(code, "agency")
    name = check_name(name, "agency")
    if session.scalar(select(Agency.id).where(Agency.code == code)) is not None:
        raise ValidationError(f"agency {code} already exists")
    timezone = check_timezone(timezone)
    parent = get_agency(session, parent_code) if parent_code else None
    agency = Agency(code=code, name=name, parent=parent, timezone=timezone,
                    head_name=(head_name or "").strip() or None, head_nip=check_nip(head_nip))
    session.add(agency)
    session.flush()
    return agency


def create_desk(
    session: Session,
    agency_code: str,
    code: str,
    name: str,
    location: str | None = None,
    questionnaire_code: str = "permenpan-14-2017",
) -> Desk:
    agency = get_agency(session, agency_code)
    code = check_code(code, "desk")
    name = check_name(name, "desk")
    exists = session.scalar(select(Desk.id).where(Desk.agency_id == agency.id, Desk.code == code))
    if exists is not None:
        raise ValidationError(f"agency {agency.code} already has a desk {code}")
    questionnaire = get_questionnaire(session, questionnaire_code)
    desk = Desk(agency=agency, code=code, name=name, location=(location or "").strip() or None,
                questionnaire=questionnaire)
    session.add(desk)
    session.flush()
    return desk


def create_service(
    session: Session,
    agency_code: str,
    code: str,
    name_id: str,
    name_en: str | None = None,
    desk_codes: list[str] | tuple[str, ...] = (),
) -> Service:
    agency = get_agency(session, agency_code)
    code = check_code(code, "service")
    name_id = check_name(name_id, "service")
    exists = session.scalar(
        select(Service.id).where(Service.agency_id == agency.id, Service.code == code)
    )
    if exists is not None:
        raise ValidationError(f"agency {agency.code} already has a service {code}")
    desks = [get_desk(session, agency.code, d) for d in desk_codes]
    service = Service(agency=agency, code=code, name_id=name_id,
                      name_en=(name_en or "").strip() or None, desks=desks)
    session.add(service)
    session.flush()
    return service


def create_user(
    session: Session,
    email: str,
    password: str,
    role: str,
    agency_codes: list[str] | tuple[str, ...] = (),
    name: str | None = None,
) -> User:
    email = (email or "").strip().lower()
    if not _EMAIL.fullmatch(email):
        raise ValidationError(f"{email!r} is not an e-mail address")
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}")
    check_password(password)
    if session.scalar(select(User.id).where(func.lower(User.email) == email)) is not None:
        raise ValidationError(f"a user {email} already exists")
    agencies = [get_agency(session, c) for c in agency_codes]
    if role in ("agency_manager", "desk_staff") and not agencies:
        raise ValidationError(f"a {role} needs at least one --agency")
    user = User(email=email, name=name, role=role, agencies=agencies,
                password_hash=generate_password_hash(password))
    session.add(user)
    session.flush()
    return user


def parse_month(text: str) -> date:
    match = re.fullmatch(r"(\d{4})-(\d{2})", (text or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValidationError(f"month {text!r} must look like 2024-05")
    return date(int(match.group(1)), int(match.group(2)), 1)


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise ValidationError(f"day {text!r} must look like 2024-05-31") from None


def set_volume(
    session: Session, desk: Desk, granularity: str, start: date, count: int
) -> ServiceVolume:
    """Record how many citizens a desk served on a day or in a month (replaces the value)."""
    if granularity not in ("day", "month"):
        raise ValidationError("granularity must be day or month")
    if granularity == "month" and start.day != 1:
        raise ValidationError("a monthly volume starts on the first day of the month")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValidationError(f"count must be a whole number >= 0, not {count!r}")
    if count > MAX_COUNT:
        raise ValidationError(f"count {count} is too large")
    volume = session.scalar(
        select(ServiceVolume).where(
            ServiceVolume.desk_id == desk.id,
            ServiceVolume.granularity == granularity,
            ServiceVolume.period_start == start,
        )
    )
    if volume is None:
        volume = ServiceVolume(desk=desk, granularity=granularity, period_start=start)
        session.add(volume)
    volume.count = count
    session.flush()
    return volume


def clear_volume(session: Session, desk: Desk, granularity: str, start: date) -> int | None:
    """Forget a volume (it becomes unknown again); returns the count that was removed."""
    volume = session.scalar(
        select(ServiceVolume).where(
            ServiceVolume.desk_id == desk.id,
            ServiceVolume.granularity == granularity,
            ServiceVolume.period_start == start,
        )
    )
    if volume is None:
        return None
    old = volume.count
    session.delete(volume)
    session.flush()
    return old


def month_volumes(session: Session, desks: Iterable[Desk], year: int) -> dict[tuple[int, int],
                                                                               int]:
    """Monthly volumes of these desks in a year: (desk id, month 1..12) -> count."""
    ids = [d.id for d in desks]
    if not ids:
        return {}
    rows = session.execute(
        select(ServiceVolume.desk_id, ServiceVolume.period_start, ServiceVolume.count).where(
            ServiceVolume.desk_id.in_(ids),
            ServiceVolume.granularity == "month",
            ServiceVolume.period_start >= date(year, 1, 1),
            ServiceVolume.period_start <= date(year, 12, 1),
        )
    )
    return {(desk_id, start.month): count for desk_id, start, count in rows}


# --- editing (the admin pages) -------------------------------------------------------------


def descendant_ids(session: Session, agency: Agency) -> set[int]:
    """The agency and every agency below it (children, grandchildren, ...)."""
    children: dict[int | None, list[int]] = {}
    for agency_id, parent_id in session.execute(select(Agency.id, Agency.parent_id)):
        children.setdefault(parent_id, []).append(agency_id)
    seen: set[int] = set()
    stack = [agency.id]
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(children.get(current, []))
    return seen


def update_agency(
    session: Session,
    agency: Agency,
    name: str,
    parent_code: str | None,
    timezone: str,
    head_name: str | None,
    head_nip: str | None,
) -> dict[str, tuple[object, object]]:
    """Edit an agency; its code is permanent (URLs, exports and imports name it). A parent
    must not lie below the agency itself, or the roll-up would loop. Returns the changes
    (field -> (old, new)) for the audit trail."""
    name = check_name(name, "agency")
    timezone = check_timezone(timezone)
    nip = check_nip(head_nip)
    parent = get_agency(session, parent_code) if parent_code else None
    if parent is not None and parent.id in descendant_ids(session, agency):
        raise ValidationError(
            f"agency {parent.code} cannot be the parent of {agency.code}: "
            + ("an agency cannot be its own parent" if parent.id == agency.id
               else f"{parent.code} lies below {agency.code}")
        )
    new = {"name": name, "parent": parent.code if parent else None, "timezone": timezone,
           "head_name": (head_name or "").strip() or None, "head_nip": nip}
    old = {"name": agency.name, "parent": agency.parent.code if agency.parent else None,
           "timezone": agency.timezone, "head_name": agency.head_name,
           "head_nip": agency.head_nip}
    agency.name, agency.parent, agency.timezone = name, parent, timezone
    agency.head_name, agency.head_nip = new["head_name"], nip
    session.flush()
    return {k: (old[k], new[k]) for k in new if old[k] != new[k]}


def update_desk(session: Session, desk: Desk, name: str, location: str | None) -> None:
    """Edit a desk's name and location. Its code and questionnaire stay: responses and
    exports refer to them."""
    desk.name = check_name(name, "desk")
    desk.location = (location or "").strip()[:200] or None
    session.flush()


def set_desk_active(session: Session, desk: Desk, active: bool) -> bool:
    """Open or close a desk; a closed desk's survey link answers 410. Returns whether
    anything changed."""
    changed = desk.active != active
    desk.active = active
    session.flush()
    return changed


def regenerate_slug(session: Session, desk: Desk) -> str:
    """Give the desk a new public link (e.g. after a poster was misused); the old link and
    every printed QR code pointing at it stop working. Returns the old slug."""
    old = desk.slug
    desk.slug = new_slug()
    session.flush()
    return old


def _agency_objects(session: Session, model, agency_id: int, ids: Iterable[int], what: str):
    wanted = set(ids)
    if not wanted:
        return []
    found = list(session.scalars(select(model).where(model.id.in_(wanted))))
    if len(found) != len(wanted) or any(o.agency_id != agency_id for o in found):
        raise ValidationError(f"every {what} must belong to the same agency")
    return sorted(found, key=lambda o: o.code)


def assign_services(session: Session, desk: Desk, service_ids: Iterable[int]) -> list[str]:
    """Set the services offered at a desk (of its own agency); returns their codes."""
    desk.services = _agency_objects(session, Service, desk.agency_id, service_ids, "service")
    session.flush()
    return [s.code for s in desk.services]


def update_service(
    session: Session,
    service: Service,
    name_id: str,
    name_en: str | None,
    active: bool,
    desk_ids: Iterable[int],
) -> None:
    """Edit a service; an inactive one is no longer offered on the citizen form but keeps
    its responses. Its code is permanent (imports name it)."""
    service.name_id = check_name(name_id, "service")
    service.name_en = (name_en or "").strip()[:200] or None
    service.active = bool(active)
    service.desks = _agency_objects(session, Desk, service.agency_id, desk_ids, "desk")
    session.flush()


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise ValidationError(f"the password must have at least {MIN_PASSWORD} characters")
    return password


def update_user(
    session: Session,
    user: User,
    role: str,
    agency_codes: list[str] | tuple[str, ...],
    active: bool,
    name: str | None,
    acting: User | None = None,
) -> dict[str, tuple[object, object]]:
    """Change a user's role, agencies, activity and name. An administrator cannot demote or
    deactivate themselves (nobody would be left to undo it). Returns the changes."""
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}")
    agencies = [get_agency(session, c) for c in agency_codes]
    if role in ("agency_manager", "desk_staff") and not agencies:
        raise ValidationError(f"a {role} needs at least one agency")
    if acting is not None and acting.id == user.id and (role != "admin" or not active):
        raise ValidationError("you cannot remove your own administrator role or deactivate "
                              "yourself")
    old = {"role": user.role, "agencies": [a.code for a in user.agencies],
           "active": user.active, "name": user.name}
    new = {"role": role, "agencies": sorted(a.code for a in agencies), "active": bool(active),
           "name": (name or "").strip()[:200] or None}
    user.role, user.agencies, user.active, user.name = (role, agencies, new["active"],
                                                        new["name"])
    session.flush()
    return {k: (old[k], new[k]) for k in new if old[k] != new[k]}


def set_password(session: Session, user: User, password: str) -> None:
    user.password_hash = generate_password_hash(check_password(password))
    session.flush()


def create_period(session: Session, key: str) -> ReportingPeriod:
    """Add a reporting period (open); the key is normalised (2024-s1 -> 2024-S1)."""
    try:
        period = parse_period(key)
    except PeriodError as exc:
        raise ValidationError(str(exc)) from None
    exists = session.scalar(select(ReportingPeriod.id).where(ReportingPeriod.key == period.key))
    if exists is not None:
        raise ValidationError(f"period {period.key} already exists")
    row = ReportingPeriod(key=period.key)
    session.add(row)
    session.flush()
    return row


def close_period(session: Session, period: ReportingPeriod, now: datetime, today: date) -> None:
    """Close a period, which publishes its results. Only once it is over: closing earlier
    would publish an index of a half-finished period."""
    if period.closed_at is not None:
        raise ValidationError(f"period {period.key} is already closed")
    end = parse_period(period.key).end
    if end >= today:
        raise ValidationError(f"period {period.key} runs until {end.isoformat()}; close it "
                              "after it has ended")
    period.closed_at = now
    session.flush()


def reopen_period(session: Session, period: ReportingPeriod) -> None:
    if period.closed_at is None:
        raise ValidationError(f"period {period.key} is not closed")
    period.closed_at = None
    session.flush()
