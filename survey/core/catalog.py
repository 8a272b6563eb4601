"""The desks citizens answer at and the sealed periods, as immutable values kept per
process.

Every citizen form and every stored response needs the desk, its agency's name and time
zone, and the services on offer. Loading them through the ORM on each request was a sixth
of a submission's CPU, yet they change a few times a year. So each process keeps a copy and
checks it, on every call, against the database's catalog stamp (`CatalogStamp`): one
primary-key read. Triggers raise the stamp in the same transaction as any change to an
agency, desk, service or reporting period, whoever makes it, so a desk closed or a period
sealed through one app server is refused by every server on its next request, and a copy
is never older than what the caller's own transaction can see.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from survey.core.models import (
    Agency,
    CatalogStamp,
    Desk,
    ReportingPeriod,
    Service,
    desk_service,
)
from survey.core.periods import Period, PeriodError, parse_period


@dataclass(frozen=True)
class ServiceView:
    id: int
    agency_id: int
    code: str
    name_id: str
    name_en: str | None
    active: bool

    def name(self, locale: str) -> str:
        return (self.name_en or self.name_id) if locale == "en" else self.name_id


@dataclass(frozen=True)
class AgencyView:
    id: int
    code: str
    name: str
    timezone: str
    service_ids: frozenset[int]  # every service of the agency, active or not


@dataclass(frozen=True)
class DeskView:
    """A desk as the citizen pages and the write path use it (read-only)."""

    id: int
    agency_id: int
    questionnaire_id: int
    code: str
    name: str
    location: str | None
    slug: str
    active: bool
    agency: AgencyView
    services: tuple[ServiceView, ...] = field(default=())  # offered at the desk, by code

    def active_services(self) -> list[ServiceView]:
        return [s for s in self.services if s.active]


@dataclass
class _Copy:
    stamp: tuple[str, int]
    by_id: dict[int, DeskView] = field(default_factory=dict)
    slugs: dict[str, int] = field(default_factory=dict)
    agencies: dict[int, AgencyView] = field(default_factory=dict)
    sealed: tuple[Period, ...] | None = None


_COPIES: dict[str, _Copy] = {}  # per database URL (tests run on several databases)
# Read on every call, so as plain SQL: SQLAlchemy's statement cache costs more than the read.
_STAMP = f"SELECT epoch, version FROM {CatalogStamp.__tablename__} WHERE id = 1"


def stamp(session: Session) -> tuple[str, int] | None:
    """The database's (epoch, version); None when the row is missing (then nothing is kept)."""
    row = session.connection().exec_driver_sql(_STAMP).first()
    return None if row is None else (row[0], row[1])


WROTE = "survey_catalog_wrote"  # connection info: this transaction has written
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "MERGE", "TRUNCATE", "CREATE", "ALTER",
           "DROP")


@event.listens_for(Engine, "begin")
def _transaction_begins(conn) -> None:
    conn.info.pop(WROTE, None)


@event.listens_for(Engine, "before_cursor_execute")
def _note_writes(conn, _cursor, statement: str, *_args) -> None:
    if statement.lstrip()[:8].split(" ", 1)[0].upper() in _WRITES:
        conn.info[WROTE] = True


def _copy(session: Session) -> _Copy:
    """This process's copy for the session's database, emptied when the stamp moved.

    A transaction that has written anything gets a copy of its own, not kept: if it
    changed the catalog, it sees its change (and the stamp its triggers raised), which
    must not outlive a rollback in a copy other requests share. Like an ORM query, the
    catalog first flushes the session's unsaved changes."""
    if session.new or session.dirty or session.deleted:
        session.flush()
    current = stamp(session)
    if current is None or session.connection().info.get(WROTE):
        return _Copy(("", -1))  # not kept: every call loads afresh
    url = str(session.get_bind().url)
    kept = _COPIES.get(url)
    if kept is None or kept.stamp != current:
        kept = _COPIES[url] = _Copy(current)
    return kept


def desk_by_slug(session: Session, slug: str) -> DeskView | None:
    """The desk behind a public link, or None."""
    if "\x00" in slug:  # from the URL; PostgreSQL refuses NUL in a text parameter
        return None
    copy = _copy(session)
    desk_id = copy.slugs.get(slug)
    if desk_id is None:
        desk_id = session.scalar(select(Desk.id).where(Desk.slug == slug))
        if desk_id is None:
            return None  # unknown links are not remembered: anyone can type them
    return _load(session, copy, [desk_id]).get(desk_id)


def desk_by_id(session: Session, desk_id: int) -> DeskView | None:
    return desks_by_id(session, [desk_id]).get(desk_id)


def desks_by_id(session: Session, ids: Iterable[int]) -> dict[int, DeskView]:
    """The desks among these ids that exist."""
    return _load(session, _copy(session), ids)


def _load(session: Session, copy: _Copy, ids: Iterable[int]) -> dict[int, DeskView]:
    wanted = set(ids)
    missing = wanted - copy.by_id.keys()
    if missing:
        desks = session.execute(select(
            Desk.id, Desk.agency_id, Desk.questionnaire_id, Desk.code, Desk.name,
            Desk.location, Desk.slug, Desk.active).where(Desk.id.in_(missing))).all()
        agencies = _agencies(session, copy, {d.agency_id for d in desks})
        offered: dict[int, list[ServiceView]] = {d.id: [] for d in desks}
        if desks:
            for desk_id, *service in session.execute(
                    select(desk_service.c.desk_id, Service.id, Service.agency_id,
                           Service.code, Service.name_id, Service.name_en, Service.active)
                    .join(Service, Service.id == desk_service.c.service_id)
                    .where(desk_service.c.desk_id.in_(offered))
                    .order_by(desk_service.c.desk_id, Service.code)):
                offered[desk_id].append(ServiceView(*service))
        for d in desks:
            copy.by_id[d.id] = DeskView(*d, agency=agencies[d.agency_id],
                                        services=tuple(offered[d.id]))
            copy.slugs[d.slug] = d.id
    return {i: copy.by_id[i] for i in wanted if i in copy.by_id}


def _agencies(session: Session, copy: _Copy, ids: set[int]) -> dict[int, AgencyView]:
    missing = ids - copy.agencies.keys()
    if missing:
        services: dict[int, set[int]] = {i: set() for i in missing}
        for agency_id, service_id in session.execute(
                select(Service.agency_id, Service.id).where(Service.agency_id.in_(missing))):
            services[agency_id].add(service_id)
        for a in session.execute(select(Agency.id, Agency.code, Agency.name, Agency.timezone)
                                 .where(Agency.id.in_(missing))):
            copy.agencies[a.id] = AgencyView(*a, service_ids=frozenset(services[a.id]))
    return {i: copy.agencies[i] for i in ids}


def closed_periods(session: Session) -> tuple[Period, ...]:
    """The sealed periods (closed, their results published): every write checks them."""
    copy = _copy(session)
    if copy.sealed is None:
        sealed = []
        for key in session.scalars(select(ReportingPeriod.key).where(
                ReportingPeriod.closed_at.is_not(None))):
            try:
                sealed.append(parse_period(key))
            except PeriodError:  # pragma: no cover - keys are parsed when created
                continue
        copy.sealed = tuple(sealed)
    return copy.sealed
