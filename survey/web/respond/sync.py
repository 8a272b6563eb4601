"""The offline kiosk's sync endpoint: POST /k/<slug>/sync takes a batch of responses the
enrolled tablet kept while it had no connection (survey.core.kiosk_sync stores them).

The contract the kiosk page's script relies on:

- Authentication: the kiosk device cookie set at enrolment (httponly, signed, path /k/).
  No CSRF token: a JSON content type (which a cross-site form cannot send without a
  CORS preflight this site never grants) and, when the browser sends an Origin, the
  request's own host stand in for it.
- Request: ``{"lang": "id"|"en", "sent_at": ISO 8601 with offset (the tablet's clock when
  sending), "waiting": int >= 0 (responses still queued on the tablet besides this
  batch), "refused": int >= 0 (responses it keeps because the server refused them),
  "responses": [{"key": 16-64 of [A-Za-z0-9_-], "captured_at": ISO 8601 with offset,
  "answers": {"U1": 4, ...}, "service": int|null, "sex"|"age"|"education"|"occupation":
  str|null ("" and "-" mean not stated), "comment": str|null}]}``. An empty list is a
  heartbeat. Unknown fields are ignored.
- Clock skew: cheap tablets keep wrong clocks. When ``sent_at`` differs from the server's
  time by more than five minutes, every ``captured_at`` is shifted by the difference
  before it is checked: the capture times keep their distance from the sending.
- 200 ``{"results": [{"key", "status": "stored"|"duplicate"|"refused", "code": null or
  the reason's code, "reason": null or the reason in words}], "server_time": ISO}``, one
  result per response in the order sent. Stored and duplicate may be forgotten by the
  tablet; refused ones are kept and shown to staff.
- Errors, ``{"error": code, "message": sentence}``: 400 ``malformed`` (with ``detail``,
  in English, for the developer), 401 ``not_enrolled``, 403 ``kiosk_revoked`` or
  ``foreign_origin``, 404 ``unknown_desk``, 410 ``desk_closed``, 413 ``batch_too_large``
  (with ``max``, the most responses per batch, and ``max_bytes``), 415
  ``unsupported_media_type``, 429 ``rate_limited`` (with Retry-After), 503
  ``unavailable``, 500 ``server_error``. Nothing is stored on any of them.

Sentences are in the batch's ``lang`` (else the browser's language choice).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, jsonify, request
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge

from survey.core import catalog, kiosk_sync
from survey.core.db import db, utcnow
from survey.core.errors import ValidationError
from survey.core.kiosk_sync import Captured
from survey.core.org import kiosks
from survey.core.profile import PROFILE
from survey.web.access import PUBLIC
from survey.web.devices import device_of
from survey.web.extensions import limiter
from survey.web.messages import message_for
from survey.web.respond.forms import NOT_STATED

bp = Blueprint("kiosk_sync", __name__)
POLICY = {"kiosk_sync.sync": PUBLIC}
CSRF_EXEMPT = True  # see the module's docstring: content type and Origin instead

SKEW_TOLERANCE = timedelta(minutes=5)
MIN_BODY_LIMIT = 256 * 1024
BYTES_PER_RESPONSE = 10 * 1024  # a 1,000-character suggestion escaped as \uXXXX: 6 kB


class Malformed(ValueError):
    """The batch is not what the kiosk page sends: 400, nothing stored."""


def _device_key() -> str:
    """Rate limits count per kiosk device (the cookie's id is signed), else per address."""
    device_id, _secret = device_of(request)
    if isinstance(device_id, int) and not isinstance(device_id, bool):
        return f"kiosk-device:{device_id}"
    return get_remote_address()


def _sync_limit() -> str:
    return current_app.config["SURVEY_SYNC_RATE_LIMIT"]


def _body_limit() -> int:
    return max(MIN_BODY_LIMIT, BYTES_PER_RESPONSE * current_app.config["SURVEY_SYNC_MAX_BATCH"])


def _answer(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
            ) -> Response:
    response = jsonify(payload)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _error(status: int, code: str, message: str, **extra: Any) -> Response:
    return _answer(status, {"error": code, "message": message, **extra})


@contextmanager
def _language(lang: object) -> Iterator[None]:
    """The batch's language when it names one of the site's, else the request's."""
    if isinstance(lang, str) and lang in current_app.config["LANGUAGES"]:
        with force_locale(lang):
            yield
    else:
        yield


@bp.post("/k/<slug>/sync")
@limiter.limit(_sync_limit, key_func=_device_key)
def sync(slug: str):
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc.lower() != request.host.lower():
        return _error(403, "foreign_origin", _(
            "This request did not come from the kiosk page of this site."))
    if request.mimetype != "application/json":
        return _error(415, "unsupported_media_type", _(
            "The responses must be sent as JSON."))
    limit = _body_limit()
    if (request.content_length or 0) > limit:
        return _too_large()
    request.max_content_length = limit
    try:
        body = json.loads(request.get_data(cache=False))
    except RequestEntityTooLarge:
        return _too_large()
    except (ValueError, RecursionError):
        body = None
    with _language(body.get("lang") if isinstance(body, dict) else None):
        return _sync(slug, body)


def _too_large() -> Response:
    max_batch = current_app.config["SURVEY_SYNC_MAX_BATCH"]
    return _error(413, "batch_too_large", _(
        "Send at most %(max)s responses at a time.", max=max_batch), max=max_batch,
        max_bytes=_body_limit())


def _sync(slug: str, body: object) -> Response:
    desk = catalog.desk_by_slug(db.session, slug)
    if desk is None:
        return _error(404, "unknown_desk", _("This survey link is not valid."))
    if not desk.active:
        return _error(410, "desk_closed", _(
            "This service desk is closed and no longer takes responses. Thank you for "
            "your interest."))
    device_id, secret = device_of(request)
    device = kiosks.identify(db.session, desk.id, device_id, secret)
    if device is None:
        return _error(401, "not_enrolled", _(
            "This tablet is not enrolled as this desk's kiosk. Ask the desk staff to enrol "
            "it; the responses wait on the tablet until then."))
    if device.revoked_at is not None:
        return _revoked()
    now = utcnow()
    try:
        batch = _parse(body, now, current_app.config["SURVEY_SYNC_MAX_BATCH"])
    except Malformed as exc:
        return _error(400, "malformed", _(
            "The batch of responses could not be read; nothing was stored."),
            detail=str(exc))
    if batch is None:
        return _too_large()
    items, waiting, refused = batch
    try:
        results = kiosk_sync.sync(
            db.session, device, items, now=now,
            max_age_days=current_app.config["SURVEY_SYNC_MAX_AGE_DAYS"],
            waiting=waiting, refused=refused)
    except ValidationError as exc:
        if exc.code == "kiosk_revoked":
            return _revoked()
        if exc.code == "desk_closed":
            return _error(410, "desk_closed", _(
                "This service desk is closed and no longer takes responses. Thank you for "
                "your interest."))
        raise
    return _answer(200, {
        "results": [{"key": r.key, "status": r.status,
                     "code": r.error.code if r.error else None,
                     "reason": message_for(r.error) if r.error else None}
                    for r in results],
        "server_time": now.isoformat(),
    })


def _revoked() -> Response:
    return _error(403, "kiosk_revoked", _(
        "This tablet is no longer this desk's kiosk: its enrolment was revoked. Its "
        "responses were not sent; ask the desk staff."))


# --- reading the batch ---------------------------------------------------------------------


def _parse(body: object, now: datetime, max_batch: int
           ) -> tuple[list[Captured], int | None, int | None] | None:
    """The batch's responses (capture times corrected for the tablet's clock) and what the
    tablet reports; None when it holds more than `max_batch` responses. Raises Malformed."""
    if not isinstance(body, dict):
        raise Malformed("the body is not a JSON object")
    raw_items = body.get("responses")
    if not isinstance(raw_items, list):
        raise Malformed("responses is not a list")
    if len(raw_items) > max_batch:
        return None
    waiting, refused = _count(body, "waiting"), _count(body, "refused")
    sent_at = _moment(body.get("sent_at"), "sent_at")
    skew = now - sent_at
    shift = skew if abs(skew) > SKEW_TOLERANCE else timedelta(0)
    items = []
    for number, raw in enumerate(raw_items, start=1):
        try:
            items.append(_item(raw, shift))
        except Malformed as exc:
            raise Malformed(f"response {number}: {exc}") from None
    return items, waiting, refused


def _count(body: dict, name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise Malformed(f"{name} is not a whole number from 0")
    return value


def _moment(value: object, name: str) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise Malformed(f"{name} is not an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Malformed(f"{name} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise Malformed(f"{name} has no UTC offset")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+07:00 is in the year 0 in UTC
        raise Malformed(f"{name} is out of range") from None


def _item(raw: object, shift: timedelta) -> Captured:
    if not isinstance(raw, dict):
        raise Malformed("not an object")
    key = raw.get("key")
    if not isinstance(key, str) or not kiosk_sync.KEY.fullmatch(key):
        raise Malformed("key must be 16-64 letters, digits, '-' or '_'")
    try:
        captured = _moment(raw.get("captured_at"), "captured_at") + shift
    except OverflowError:
        raise Malformed("captured_at is out of range after the clock correction") from None
    answers = raw.get("answers")
    if not isinstance(answers, dict) or not all(
            isinstance(score, int) and not isinstance(score, bool)
            for score in answers.values()):
        raise Malformed("answers is not an object of whole-number scores")
    service = raw.get("service")
    if service is not None and (isinstance(service, bool) or not isinstance(service, int)):
        raise Malformed("service is not a number or null")
    profile: dict[str, str | None] = {}
    for name in PROFILE:
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            raise Malformed(f"{name} is not text or null")
        profile[name] = None if value in (None, "", NOT_STATED) else value
    comment = raw.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise Malformed("comment is not text or null")
    return Captured(key=key, captured_at=captured, answers=answers, service_id=service,
                    profile=profile, comment=comment)


# --- errors as JSON ------------------------------------------------------------------------
# The kiosk's script reads every answer of this endpoint as JSON, errors included.

ERROR_CODES = {400: "malformed", 404: "unknown_desk", 405: "method_not_allowed",
               413: "batch_too_large", 429: "rate_limited"}


def _http_error(error: HTTPException) -> Response:
    code = error.code or 500
    if code == 429:
        message = _("Too many requests from this tablet. It tries again by itself in a "
                    "minute.")
    elif code == 413:
        return _too_large()
    else:
        message = _("The batch of responses could not be read; nothing was stored.")
    headers = {k: v for k, v in error.get_response().headers.items()
               if k in ("Retry-After", "Allow")}
    return _answer(code, {"error": ERROR_CODES.get(code, "error"), "message": message},
                   headers)


def _unavailable(error: Exception) -> Response:
    current_app.logger.warning("database unreachable: %s", error)
    with suppress(SQLAlchemyError):  # a lost connection has nothing to undo
        db.session.rollback()
    return _answer(503, {"error": "unavailable", "message": _(
        "The server cannot reach its database at the moment. The responses stay on the "
        "tablet and are sent again later.")}, {"Retry-After": "30"})


def _internal(error: InternalServerError) -> Response:
    original = getattr(error, "original_exception", None)
    if isinstance(original, OperationalError | InterfaceError):
        return _unavailable(original)
    with suppress(SQLAlchemyError):
        db.session.rollback()
    return _answer(500, {"error": "server_error", "message": _(
        "An unexpected error stopped the sending. It has been logged; the responses stay on "
        "the tablet and are sent again later.")})


for _status in (400, 404, 405, 413, 429):
    bp.register_error_handler(_status, _http_error)
bp.register_error_handler(OperationalError, _unavailable)
bp.register_error_handler(InterfaceError, _unavailable)
bp.register_error_handler(InternalServerError, _internal)
