"""Responses a kiosk tablet took while offline, sent later in batches.

The kiosk keeps each citizen's response on the tablet with its own idempotency key and
the time it was captured, and sends what waits whenever it has a connection. A batch may
be sent twice (the answer was lost), cut off half way and sent again, or sent by two tabs
at once: every valid response is stored exactly once, and each one gets its own answer
(stored, already stored, or refused with a reason) so that the tablet knows what it may
forget and what it must keep.

No ballot-stuffing flags are computed for these responses (unlike the online form's
cooldown, fill time, burst and pattern signals): the tablet was enrolled by the desk's
staff, every response names it (`Response.device_id`), the signals need the moment of the
request while these arrive hours later in bursts by design, and a revoked tablet's
batches are refused whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload

from survey.core import questionnaires
from survey.core.db import write_transaction
from survey.core.errors import ValidationError
from survey.core.models import COMMENT_MAX, Desk, KioskDevice, Response
from survey.core.org import periods
from survey.core.periods import Period
from survey.core.profile import PROFILE
from survey.core.responses import (
    NewResponse,
    Prepared,
    coarsen,
    prepare_responses,
    store_responses,
)

KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")  # the same as the web form's idempotency key
MAX_AHEAD = timedelta(minutes=10)  # a capture time later than now by more: a wrong clock
ATTEMPTS = 3  # a concurrent batch with the same keys committed first: read again

STORED, DUPLICATE, REFUSED = "stored", "duplicate", "refused"


@dataclass(frozen=True)
class Captured:
    """One response from a kiosk's queue, parsed from JSON by the web layer."""

    key: str
    captured_at: datetime  # aware: when the citizen finished, by the tablet's clock
    answers: dict[str, int]
    service_id: int | None
    profile: dict[str, str | None]
    comment: str | None


@dataclass(frozen=True)
class ItemResult:
    """What became of one response: stored now, stored before (the tablet may forget it
    either way), or refused with the reason (the tablet keeps it and shows staff why)."""

    key: str
    status: str  # "stored" | "duplicate" | "refused"
    error: ValidationError | None = None


class _Raced(Exception):
    """A concurrent change (same keys stored, a period closed) between reading and
    writing: start again from the reading."""


def sync(session: Session, device: KioskDevice, items: Sequence[Captured], *,
         now: datetime, max_age_days: int, waiting: int | None, refused: int | None
         ) -> list[ItemResult]:
    """Store a batch from an enrolled kiosk device; one result per item, in order.

    Each item is checked on its own and only an invalid one is refused: its key was used
    at another desk (key_conflict), it was captured more than `max_age_days` before `now`
    (too_old) or more than ten minutes after it (in_future), on a day of a closed period
    (period_closed), or its answers are not those the desk's form takes (every element
    scored 1 to 4, the service when the desk offers services, the profile's choices, a
    suggestion of at most COMMENT_MAX characters). A key already stored at this desk is a
    duplicate: acknowledged, not stored again. The valid items are stored together in one
    write transaction, channel kiosk, with the device and their capture time (which the
    store coarsens to the hour; its agency-local day decides the period).

    The device's last contact becomes `now` (and its last sync, when the batch carries
    responses); `waiting` and `refused` are what the tablet reports it still holds. An
    empty batch is such a heartbeat and nothing else. A revoked device or a closed desk
    raises ValidationError (kiosk_revoked, desk_closed): nothing is stored. No stuffing
    flags are set (see the module's docstring: the device is staff-enrolled and named).
    """
    for key in {item.key for item in items}:
        if not isinstance(key, str) or not KEY.fullmatch(key):
            raise ValidationError("a response key is 16 to 64 letters, digits, '-' or '_'",
                                  code="bad_key")
    device_id = device.id
    for attempt in range(ATTEMPTS):
        try:
            return _attempt(session, device_id, items, now=now, max_age_days=max_age_days,
                            waiting=waiting, refused=refused)
        except (IntegrityError, _Raced):
            session.rollback()
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _usable(session: Session, device_id: int) -> tuple[KioskDevice, Desk]:
    device = session.get(KioskDevice, device_id)
    desk = session.scalar(select(Desk).where(Desk.id == device.desk_id).options(
        joinedload(Desk.agency), selectinload(Desk.services))) if device else None
    if device is None or desk is None or device.revoked_at is not None:
        raise ValidationError("this kiosk device was revoked", code="kiosk_revoked")
    if not desk.active:
        raise ValidationError(f"desk {desk.code} is closed", code="desk_closed",
                              desk=desk.code)
    return device, desk


def _attempt(session: Session, device_id: int, items: Sequence[Captured], *, now: datetime,
             max_age_days: int, waiting: int | None, refused: int | None
             ) -> list[ItemResult]:
    device, desk = _usable(session, device_id)
    checker = _Checker(session, desk, device_id, now, max_age_days)
    keys = {item.key for item in items}
    known: dict[str, int] = dict(session.execute(
        select(Response.idempotency_key, Response.desk_id)
        .where(Response.idempotency_key.in_(keys))).tuples().all()) if keys else {}
    results: list[ItemResult | None] = [None] * len(items)
    first: dict[str, int] = {}  # key -> index of its first item in this batch
    pending: list[tuple[int, NewResponse]] = []
    for index, item in enumerate(items):
        if item.key in first:
            continue  # answered like its first occurrence, below
        first[item.key] = index
        if item.key in known:
            results[index] = (ItemResult(item.key, DUPLICATE) if known[item.key] == desk.id
                              else _refused(item.key, ValidationError(
                                  "this response's key was already used at another desk",
                                  code="key_conflict")))
            continue
        try:
            pending.append((index, checker.check(item)))
        except ValidationError as exc:
            results[index] = _refused(item.key, exc)
    prepared = _prepare(session, pending, items, results)
    with write_transaction(session):
        device, _desk = _usable(session, device_id)
        try:
            store_responses(session, prepared)
        except ValidationError as exc:
            if exc.code == "period_closed":  # closed meanwhile: check the items again
                raise _Raced() from exc
            raise
        device.last_seen_at = now
        if items:
            device.last_sync_at = now
        device.waiting_reported = waiting
        device.refused_reported = refused
    for index, _response in pending:
        results[index] = ItemResult(items[index].key, STORED)
    for index, item in enumerate(items):
        if results[index] is None:  # a key repeated within the batch
            earlier = results[first[item.key]]
            assert earlier is not None
            results[index] = (ItemResult(item.key, DUPLICATE) if earlier.status != REFUSED
                              else earlier)
    return [result for result in results if result is not None]


def _refused(key: str, error: ValidationError) -> ItemResult:
    return ItemResult(key, REFUSED, error)


def _prepare(session: Session, pending: list[tuple[int, NewResponse]],
             items: Sequence[Captured], results: list[ItemResult | None]) -> Prepared:
    """Prepare the checked items for storing; one the common checks of every channel
    still refuse (which the kiosk's own checks should have caught) is refused alone and
    the others are prepared again."""
    while True:
        try:
            return prepare_responses(session, [response for _index, response in pending])
        except ValidationError as exc:
            number = int(str(exc.params.get("item", 1)))
            index, _response = pending.pop(number - 1)
            params = {k: v for k, v in exc.params.items() if k != "item"}
            message = str(exc).removeprefix(f"response {number}: ")
            results[index] = _refused(items[index].key,
                                      ValidationError(message, exc.code, **params))


def _well_formed(text: str) -> str:
    """The text with each lone UTF-16 surrogate (JSON's "\\ud83d": an emoji cut in half by
    a length limit) replaced by U+FFFD; no database can store one."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


class _Checker:
    """The checks of one item against its desk, with what they read loaded once."""

    def __init__(self, session: Session, desk: Desk, device_id: int, now: datetime,
                 max_age_days: int) -> None:
        self.desk, self.device_id, self.now = desk, device_id, now
        self.oldest = now - timedelta(days=max_age_days)
        self.max_age_days = max_age_days
        self.zone = ZoneInfo(desk.agency.timezone)
        self.codes = [e.code for e in questionnaires.elements(session, desk.questionnaire_id)]
        self.services = {s.id for s in desk.services if s.active}
        self.sealed: list[Period] = periods.closed_periods(session)

    def check(self, item: Captured) -> NewResponse:
        """The item as a response to store, or ValidationError with the reason."""
        self._check_time(item.captured_at)
        answers = self._answers(item.answers)
        if item.service_id is None:
            if self.services:
                raise ValidationError("the service received was not chosen",
                                      code="service_required")
        elif item.service_id not in self.services:
            raise ValidationError("the service is not offered at this desk",
                                  code="service_not_at_desk")
        profile = self._profile(item.profile)
        comment = _well_formed((item.comment or "").strip())
        if "\x00" in comment:
            raise ValidationError("the suggestion contains a NUL character", code="bad_text")
        if len(comment) > COMMENT_MAX:
            raise ValidationError(f"the suggestion is longer than {COMMENT_MAX} characters",
                                  code="comment_too_long", limit=COMMENT_MAX)
        return NewResponse(
            desk_id=self.desk.id, answers=answers, submitted_at=item.captured_at,
            channel="kiosk", service_id=item.service_id, comment=comment or None,
            idempotency_key=item.key, device_id=self.device_id, **profile)

    def _check_time(self, captured: datetime) -> None:
        if captured.tzinfo is None:
            raise ValidationError("submission time must carry a time zone", code="naive_time")
        when = {"value": captured.isoformat(), "zone": self.desk.agency.timezone}
        if captured > self.now + MAX_AHEAD:
            raise ValidationError(f"captured at {captured.isoformat()}, in the future",
                                  code="in_future", **when)
        if captured < self.oldest:
            raise ValidationError(
                f"captured at {captured.isoformat()}, more than {self.max_age_days} days "
                "ago", code="too_old", days=self.max_age_days, **when)
        day = coarsen(captured).astimezone(self.zone).date()
        for period in self.sealed:
            if period.contains(day):
                raise ValidationError(periods.sealed_message(period, day),
                                      code="period_closed", period=period.key,
                                      day=day.isoformat())

    def _answers(self, answers: dict[str, int]) -> dict[str, int]:
        for code, score in answers.items():
            if code not in self.codes:
                raise ValidationError(f"element {code!r} is not on this desk's questionnaire",
                                      code="not_on_questionnaire", element=str(code)[:20])
            if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 4:
                raise ValidationError(f"score for {code} must be 1, 2, 3 or 4, not {score!r}",
                                      code="bad_score", value=str(score)[:20], element=code)
        for code in self.codes:
            if code not in answers:
                raise ValidationError(f"element {code} was not answered",
                                      code="answer_missing", element=code)
        return dict(answers)

    @staticmethod
    def _profile(profile: dict[str, str | None]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for name, value in profile.items():
            if name not in PROFILE:
                raise ValidationError(f"unknown profile question {name!r}",
                                      code="bad_profile", name=str(name)[:20])
            if value is not None and value not in PROFILE[name]:
                raise ValidationError(
                    f"{name} {value!r} is not one of {', '.join(PROFILE[name])}",
                    code="bad_choice", value=str(value)[:40],
                    allowed=", ".join(PROFILE[name]))
            out[name] = value
        return out
