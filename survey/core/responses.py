"""The one write path for responses: every channel (QR form, ticket, kiosk, paper entry,
CSV import, demo data) stores responses through `record_responses`, so the validation,
anonymisation, hash chain and rollups are the same for all of them."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from survey.core import bulk, catalog, ledger, questionnaires, receipts, rollups
from survey.core.catalog import DeskView
from survey.core.errors import ValidationError
from survey.core.models import (
    AGE_BANDS,
    CHANNELS,
    COMMENT_MAX,
    EDUCATIONS,
    OCCUPATIONS,
    SEXES,
    Answer,
    Response,
)
from survey.core.org import periods
from survey.core.privacy import mask_personal_data
from survey.core.rollups import Contribution

FLAG_NAMES = ("cooldown", "honeypot", "too_fast", "burst", "replay", "pattern")


@dataclass(frozen=True)
class NewResponse:
    """A response as a channel hands it over; answers map element codes to scores and a
    missing code is a blank answer (allowed on paper, not on the web form)."""

    desk_id: int
    answers: Mapping[str, int]
    submitted_at: datetime
    channel: str
    service_id: int | None = None
    verified: bool = False
    flags: tuple[str, ...] = ()
    sex: str | None = None
    age: str | None = None
    education: str | None = None
    occupation: str | None = None
    comment: str | None = None
    idempotency_key: str | None = None
    device_id: int | None = None  # the enrolled kiosk tablet (kiosk channel only)


@dataclass(frozen=True)
class Recorded:
    response_id: int
    receipt: str
    masked_numbers: int = 0
    flags: tuple[str, ...] = field(default_factory=tuple)


def coarsen(moment: datetime) -> datetime:
    """Keep only the hour: enough for the arrival heatmap, too coarse to identify anyone."""
    if moment.tzinfo is None:
        raise ValidationError("submission time must carry a time zone", code="naive_time")
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Prepared:
    """Responses validated, anonymised and ready to store (`prepare_responses`): reads
    only, so a large import does this before it opens its write transaction."""

    rows: list[dict]
    answers: list[dict[int, int]]
    masked: list[int]
    rollup_deltas: rollups.Deltas

    def __len__(self) -> int:
        return len(self.rows)


def record_responses(session: Session, items: Sequence[NewResponse]) -> list[Recorded]:
    """Validate and store responses in the caller's transaction, extending the chain and
    the rollups.

    All-or-nothing: the first invalid item raises ValidationError (its message names the
    item number) before anything is written.
    """
    return store_responses(session, prepare_responses(session, items))


def prepare_responses(session: Session, items: Sequence[NewResponse]) -> Prepared:
    """Check every item (the first invalid one raises ValidationError naming its number)
    and compute what storing them writes, except what depends on the chain."""
    if not items:
        return Prepared([], [], [], rollups.Deltas({}, {}))
    desks = _load_desks(session, {item.desk_id for item in items})
    elements = {d.questionnaire_id: questionnaires.elements(session, d.questionnaire_id)
                for d in desks.values()}
    rows: list[dict] = []
    answer_maps: list[dict[int, int]] = []
    masked_counts: list[int] = []
    for number, item in enumerate(items, start=1):
        prefix = f"response {number}: " if len(items) > 1 else ""
        try:
            row, answers, masked = _validate(item, desks, elements)
        except ValidationError as exc:
            raise ValidationError(prefix + str(exc), exc.code,
                                  **{**exc.params, "item": number}) from None
        rows.append(row)
        answer_maps.append(answers)
        masked_counts.append(masked)
    deltas = rollups.deltas_for(
        Contribution(row["desk_id"], row["questionnaire_id"], row["day"], row["service_id"],
                     row["verified"], bool(row["flags"]),
                     _scores(elements[row["questionnaire_id"]], answers), row["hour"],
                     row["channel"],
                     (row["sex"], row["age"], row["education"], row["occupation"]))
        for row, answers in zip(rows, answer_maps, strict=True))
    return Prepared(rows, answer_maps, masked_counts, deltas)


def store_responses(session: Session, prepared: Prepared) -> list[Recorded]:
    """Store prepared responses in the caller's (write) transaction. Refuses, storing
    nothing, when one is dated in a closed period. The chain lock is taken as late as
    possible: after the rows are in, for the hashing, receipts and rollups only."""
    rows, answer_maps = prepared.rows, prepared.answers
    if not rows:
        return []
    sealed = periods.first_sealed(session, [row["day"] for row in rows])
    if sealed is not None:  # a closed period's published results must not change
        index, period = sealed
        prefix = f"response {index + 1}: " if len(rows) > 1 else ""
        raise ValidationError(prefix + periods.sealed_message(period, rows[index]["day"]),
                              code="period_closed", period=period.key,
                              day=rows[index]["day"].isoformat(), item=index + 1)
    ids = bulk.reserve_ids(session, Response.__table__, len(rows))
    columns = tuple(rows[0])
    bulk.insert_rows(session, Response.__table__, ("id", *columns), [
        (rid, *row.values()) for rid, row in zip(ids, rows, strict=True)])
    bulk.insert_rows(session, Answer.__table__,
                     ("response_id", "element_id", "questionnaire_id", "score", "day"), [
        (rid, eid, row["questionnaire_id"], score, row["day"])
        for rid, row, answers in zip(ids, rows, answer_maps, strict=True)
        for eid, score in answers.items()
    ])
    links = ledger.append(session, [
        ("response", rid, ledger.response_payload({**row, "id": rid}, answers))
        for rid, row, answers in zip(ids, rows, answer_maps, strict=True)
    ])
    codes = receipts.issue(session, ledger.lock_head(session).receipt_key, links)
    rollups.add_responses(session, prepared.rollup_deltas)
    return [
        Recorded(rid, code, masked, tuple(filter(None, row["flags"].split(","))))
        for rid, code, masked, row in zip(ids, codes, prepared.masked, rows, strict=True)
    ]


def _scores(elements, answers: Mapping[int, int]) -> tuple[int, ...]:
    """Scores in questionnaire order, 0 for a blank: the rollups' row layout."""
    return tuple(answers.get(e.id, 0) for e in elements)


def _load_desks(session: Session, ids: set[int]) -> dict[int, DeskView]:
    found = catalog.desks_by_id(session, ids)
    missing = ids - found.keys()
    if missing:
        raise ValidationError(f"unknown desk id {min(missing)}", code="unknown_desk_id",
                              desk=min(missing))
    return found


def _choice(value: str | None, allowed: tuple[str, ...], what: str) -> str | None:
    if value is None or value == "":
        return None
    if value not in allowed:
        raise ValidationError(f"{what} {value!r} is not one of {', '.join(allowed)}",
                              code="bad_choice", value=value, allowed=", ".join(allowed))
    return value


def _validate(
    item: NewResponse, desks: Mapping[int, DeskView],
    questionnaire_elements: Mapping[int, tuple],
) -> tuple[dict, dict[int, int], int]:
    desk = desks[item.desk_id]
    elements = {e.code: e.id for e in questionnaire_elements[desk.questionnaire_id]}
    answers: dict[int, int] = {}
    for code, score in item.answers.items():
        if code not in elements:
            raise ValidationError(f"element {code!r} is not on this desk's questionnaire",
                                  code="not_on_questionnaire", element=code)
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 4:
            raise ValidationError(f"score for {code} must be 1, 2, 3 or 4, not {score!r}",
                                  code="bad_score", value=str(score)[:20], element=code)
        answers[elements[code]] = score
    if item.channel not in CHANNELS:
        raise ValidationError(f"unknown channel {item.channel!r}", code="unknown_channel",
                              channel=item.channel)
    if item.channel == "ticket" and not item.verified:
        raise ValidationError("ticket responses are verified", code="ticket_verified")
    if item.device_id is not None and item.channel != "kiosk":
        raise ValidationError("only a kiosk response names a kiosk device",
                              code="device_not_kiosk")
    if item.service_id is not None and item.service_id not in desk.agency.service_ids:
        raise ValidationError("the service is not offered by this desk's agency",
                              code="service_elsewhere")
    unknown_flags = set(item.flags) - set(FLAG_NAMES)
    if unknown_flags:
        raise ValidationError(f"unknown flag {sorted(unknown_flags)[0]!r}", code="unknown_flag",
                              flag=sorted(unknown_flags)[0])
    comment, masked, salt, digest = None, 0, None, None
    if item.comment is not None and item.comment.strip():
        comment, masked = mask_personal_data(item.comment.strip())
        if len(comment) > COMMENT_MAX:
            raise ValidationError(f"the suggestion is longer than {COMMENT_MAX} characters",
                                  code="comment_too_long", limit=COMMENT_MAX)
        salt = secrets.token_hex(16)  # a digest without a salt would let one guess short texts
        digest = ledger.comment_digest(salt, comment)
    submitted = coarsen(item.submitted_at)
    local = submitted.astimezone(ZoneInfo(desk.agency.timezone))
    row = {
        "desk_id": desk.id,
        "service_id": item.service_id,
        "questionnaire_id": desk.questionnaire_id,
        "submitted_at": submitted,
        "day": local.date(),
        "hour": local.hour,
        "channel": item.channel,
        "verified": bool(item.verified),
        "flags": ",".join(f for f in FLAG_NAMES if f in item.flags),
        "sex": _choice(item.sex, SEXES, "sex"),
        "age": _choice(item.age, AGE_BANDS, "age band"),
        "education": _choice(item.education, EDUCATIONS, "education"),
        "occupation": _choice(item.occupation, OCCUPATIONS, "occupation"),
        "comment": comment,
        "comment_salt": salt,
        "comment_digest": digest,
        "idempotency_key": item.idempotency_key or None,
        # Not in the chain's payload (ledger.response_payload lists its fields): how the
        # response arrived, like the idempotency key; older links must still verify.
        "device_id": item.device_id,
    }
    return row, answers, masked
