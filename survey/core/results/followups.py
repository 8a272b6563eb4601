"""The follow-up plan (rencana tindak lanjut, RTL): actions for weak elements, per agency
and period, shown on the dashboard, the public page and the report."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.core.audit import record_event
from survey.core.errors import ValidationError
from survey.core.models import FOLLOW_UP_STATUSES, Agency, FollowUp, User
from survey.core.periods import Period
from survey.core.results import queries
from survey.ikm.engine import ElementEstimate

STATUSES = FOLLOW_UP_STATUSES
TEXT_MAX = 2000
OPEN_STATUSES = ("planned", "in_progress")  # not done, not cancelled: still owed


def is_overdue(item: FollowUp, today: date) -> bool:
    """Past its due date (`today` is the agency's local date) and still owed."""
    return (item.due_date is not None and item.due_date < today
            and item.status in OPEN_STATUSES)


def overdue_ids(items: list[FollowUp], today: date) -> set[int]:
    return {item.id for item in items if is_overdue(item, today)}


def for_period(session: Session, agency: Agency, period: Period) -> list[FollowUp]:
    return list(session.scalars(
        select(FollowUp).where(FollowUp.agency_id == agency.id, FollowUp.period == period.key)
        .order_by(FollowUp.element_code, FollowUp.id)))


def weakest_elements(session: Session, agency: Agency, period: Period,
                     count: int = 3) -> tuple[ElementEstimate, ...]:
    """The candidates for the plan: the lowest elements of the period's index."""
    scope = queries.agency_scope(session, agency)
    result = queries.compute_groups(session, [scope], period).get(agency.code)
    if result is None or result.estimate is None:
        return ()
    return result.estimate.lowest_elements(count)


def _text(form: Mapping[str, str], name: str, what: str, required: bool, limit: int) -> str:
    value = (form.get(name) or "").strip()
    if required and not value:
        raise ValidationError(f"{what} is required", code="field_required", field=name)
    if len(value) > limit:
        raise ValidationError(f"{what} is longer than {limit} characters",
                              code="field_too_long", field=name, limit=limit)
    return value


def save(session: Session, agency: Agency, period: Period, form: Mapping[str, str],
         user: User, item: FollowUp | None = None) -> FollowUp:
    """Create or update one action from a submitted form; audited."""
    codes = {e.code for e in queries.agency_scope(session, agency).questionnaire.elements}
    element = (form.get("element_code") or "").strip()
    if element not in codes:
        raise ValidationError("choose an element of the questionnaire", code="choose_element")
    action = _text(form, "action", "the action", True, TEXT_MAX)
    owner = _text(form, "owner", "the person in charge", True, 200)
    evidence = _text(form, "evidence", "the evidence note", False, TEXT_MAX)
    status = form.get("status") or "planned"
    if status not in STATUSES:
        raise ValidationError(f"status must be one of {', '.join(STATUSES)}", code="bad_status",
                              value=str(status)[:20])
    due = None
    if form.get("due_date"):
        try:
            due = date.fromisoformat(form["due_date"])
        except ValueError:
            raise ValidationError("the due date must look like 2024-12-31",
                                  code="bad_due_date") from None
    if item is None:
        item = FollowUp(agency_id=agency.id, period=period.key)
        session.add(item)
    item.element_code, item.action, item.owner = element, action, owner
    item.due_date, item.status, item.evidence = due, status, evidence or None
    session.flush()
    record_event(session, "follow_up_saved", user, target=f"{agency.code}/{period.key}",
                 details={"id": item.id, "element": element, "status": status})
    return item
