"""Ballot-stuffing signals for static desk QR responses. They only flag a response for
review (and keep it out of the clean index); nothing is ever rejected or deleted for them.

- cooldown: the same browser answered for the same desk within the cooldown (a signed
  cookie remembers when; nothing about the person is stored);
- honeypot: a field hidden from people was filled in (a bot);
- too_fast: the form came back sooner than a person can read nine questions, or without
  the signed time it was served;
- burst: more responses at one desk in a short window than a desk can serve.
"""

from __future__ import annotations

import time

from flask import current_app
from itsdangerous import BadSignature, TimestampSigner, URLSafeSerializer
from limits import parse as parse_limit

from survey.web.extensions import limiter

COOLDOWN_COOKIE = "skm_recent"


def served_token() -> str:
    """A signed token holding the time the form was served."""
    return _signer().sign(b"form").decode()


def fill_seconds(token: str | None) -> float | None:
    if not token:
        return None
    try:
        _value, served = _signer().unsign(token, return_timestamp=True)
    except BadSignature:
        return None
    return time.time() - served.timestamp()


def _signer() -> TimestampSigner:
    return TimestampSigner(current_app.config["SECRET_KEY"], salt="survey-form-served")


def _cookie_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="survey-cooldown")


def recent_submissions(cookie: str | None) -> dict[str, float]:
    if not cookie:
        return {}
    try:
        data = _cookie_serializer().loads(cookie)
    except BadSignature:
        return {}
    return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}


def cooldown_cookie(recent: dict[str, float], desk_slug: str, now: float) -> str:
    """The cookie value after a submission at this desk; entries past the cooldown are
    dropped so the cookie stays small."""
    horizon = now - 60 * current_app.config["SURVEY_COOLDOWN_MINUTES"]
    kept = {k: v for k, v in recent.items() if v >= horizon}
    kept[desk_slug] = now
    return _cookie_serializer().dumps(kept)


def flags_for(*, desk_id: int, desk_slug: str, honeypot: bool, served: str | None,
              recent: dict[str, float] | None, now: float) -> tuple[str, ...]:
    """The signals a submission raises. `recent` is None where no cooldown applies
    (kiosk)."""
    config = current_app.config
    flags = []
    if recent is not None:
        last = recent.get(desk_slug)
        if last is not None and now - last < 60 * config["SURVEY_COOLDOWN_MINUTES"]:
            flags.append("cooldown")
    if honeypot:
        flags.append("honeypot")
    seconds = fill_seconds(served)
    if seconds is None or seconds < config["SURVEY_MIN_FILL_SECONDS"]:
        flags.append("too_fast")
    burst = parse_limit(
        f"{config['SURVEY_BURST_LIMIT']} per {config['SURVEY_BURST_WINDOW_MINUTES']} minute")
    try:
        if not limiter.limiter.hit(burst, "desk-burst", str(desk_id)):
            flags.append("burst")
    except Exception as error:  # the shared store is down: count nothing, keep accepting
        current_app.logger.warning("burst signal skipped, rate-limit store failed: %s", error)
    return tuple(flags)
