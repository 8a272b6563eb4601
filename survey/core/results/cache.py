"""Figures of sealed periods, kept in memory so that a page of a closed period (the
coordination meeting's year, an MPP of 500 desks) is computed once, not on every view.

Only a period whose every day lies in a closed reporting period is kept: from the seal on,
no response can be added there and no flag decided (`survey.core.org.periods.check_open`),
so its rollups cannot change. What else feeds its figures can: service volumes, desks and
agencies, comment moderation, a period reopened. Every such change leaves a row in the
audit log or the review log, so each entry is stored under a *fingerprint* read from the
database on every request: the closed periods with their seal time, the last audit event
that can change figures, and the last review decision. Any of them moving makes every
older entry unreachable (and it ages out of the LRU); several app processes each keep
their own entries and agree through the database. Entries are immutable values, never
ORM objects, so they outlive the session that computed them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import date, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.core.models import AuditEvent, ReportingPeriod, ReviewDecision
from survey.core.periods import Period, PeriodError, parse_period

T = TypeVar("T")

# Audit actions that change no figure: sessions, accounts, tokens, devices, exports. Any
# other action (and every action added later) counts as a change.
NEUTRAL_ACTIONS = ("login", "login_failed", "logout", "password_changed",
                   "api_token_created", "api_token_revoked", "user_created", "user_updated",
                   "user_password_reset", "kiosk_enrolled", "kiosk_revoked", "desk_api_key",
                   "desk_slug_regenerated")
NEUTRAL_PREFIX = "export_"

DEFAULT_SIZE = 32
MISSING: Any = object()  # what `FiguresCache.get` returns for a key it does not hold


class FiguresCache:
    """A small thread-safe LRU of computed figures; ``size`` 0 keeps nothing."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def resize(self, size: int) -> None:
        with self._lock:
            self.size = max(int(size), 0)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def get(self, key: Hashable | None) -> Any:
        """The entry under ``key`` (a hit), else MISSING (a miss, unless ``key`` is None):
        for a caller that computes several missing entries together, then `put`s them."""
        if key is None or self.size == 0:
            return MISSING
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
        self.misses += 1
        return MISSING

    def put(self, key: Hashable | None, value: Any) -> None:
        """Keep ``value`` under ``key`` (nothing when ``key`` is None)."""
        if key is None or self.size == 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get_or_compute(self, key: Hashable | None, compute: Callable[[], T]) -> T:
        """The entry under ``key``, else ``compute()`` (stored unless ``key`` is None)."""
        value = self.get(key)
        if value is MISSING:
            value = compute()  # outside the lock: two requests may both compute, both correct
            self.put(key, value)
        return value


FIGURES = FiguresCache()


def closed_spans(session: Session) -> tuple[tuple[str, str], ...]:
    """The closed reporting periods with their seal time (reopening and closing again
    changes it), sorted: part of every key."""
    rows = session.execute(select(ReportingPeriod.key, ReportingPeriod.closed_at)
                           .where(ReportingPeriod.closed_at.is_not(None))).all()
    return tuple(sorted((key, closed.isoformat()) for key, closed in rows))


def is_sealed(period: Period, closed: tuple[tuple[str, str], ...]) -> bool:
    """Whether every day of ``period`` lies in one of the closed periods."""
    spans = []
    for key, _ in closed:
        try:
            spans.append(parse_period(key))
        except PeriodError:  # pragma: no cover - keys are parsed when created
            continue
    day = period.start  # the first day not yet known to be closed
    for span in sorted(spans, key=lambda s: s.start):
        if span.start > day:
            return False  # a gap: no later span starts early enough to cover it
        if span.end >= day:
            day = span.end + timedelta(days=1)
            if day > period.end:
                return True
    return False


def fingerprint(session: Session) -> tuple | None:
    """What the figures of sealed periods depend on besides their frozen rollups (read
    once per page); None when no period is closed (nothing can be kept)."""
    closed = closed_spans(session)
    if not closed:
        return None
    last_change = session.scalar(
        select(AuditEvent.id).where(AuditEvent.action.not_in(NEUTRAL_ACTIONS),
                                    ~AuditEvent.action.startswith(NEUTRAL_PREFIX))
        .order_by(AuditEvent.id.desc()).limit(1))
    last_decision = session.scalar(select(ReviewDecision.id)
                                   .order_by(ReviewDecision.id.desc()).limit(1))
    database = session.get_bind().url.render_as_string(hide_password=True)
    return database, closed, last_change, last_decision


def key(stamp: tuple | None, kind: str, *parts: Hashable, period: Period,
        since: date | None = None) -> tuple | None:
    """The cache key of figures of ``period`` (and of nothing outside it) under the
    `fingerprint` ``stamp``, or None when the period is not sealed: its figures may change
    with the next response. ``since``: the first month with any response of the figures'
    desks (read on the same request); the days before it hold nothing, so only the rest
    must be sealed, and the key names it: a late response before it moves it."""
    if stamp is None:
        return None
    covered = period
    if since is not None and since > period.start:
        if since > period.end:
            return None
        covered = Period(since, period.end, f"{since.isoformat()}..{period.end.isoformat()}",
                         "range")
    if not is_sealed(covered, stamp[1]):
        return None
    return (kind, *parts, period.key, since, stamp)
