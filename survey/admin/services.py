"""Write operations on the organisation: agencies, desks, services, users, volumes.

Shared by the `flask` commands and the admin pages. Each function validates its input
and raises ValidationError / NotFound with a message fit for the user; the caller commits.
"""

from __future__ import annotations

import re
from datetime import date
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
    Service,
    ServiceVolume,
    User,
)

_CODE = re.compile(CODE_PATTERN)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10


def check_code(code: str, what: str) -> str:
    code = (code or "").strip()
    if not _CODE.match(code):
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
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone {timezone!r} (e.g. Asia/Jakarta)") from None
    parent = get_agency(session, parent_code) if parent_code else None
    if head_nip and not re.fullmatch(r"\d{18}", head_nip.replace(" ", "")):
        raise ValidationError("NIP must have 18 digits")
    agency = Agency(code=code, name=name, parent=parent, timezone=timezone,
                    head_name=head_name or None,
                    head_nip=head_nip.replace(" ", "") if head_nip else None)
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
    if not _EMAIL.match(email):
        raise ValidationError(f"{email!r} is not an e-mail address")
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}")
    if len(password or "") < MIN_PASSWORD:
        raise ValidationError(f"the password must have at least {MIN_PASSWORD} characters")
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
