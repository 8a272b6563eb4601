"""Ballot-stuffing signals for static desk QR responses. They only flag a response for
review (and keep it out of the clean index); nothing is ever rejected or deleted for them.

- cooldown: the same browser answered for the same desk within the cooldown (a signed
  cookie remembers when; nothing about the person is stored);
- honeypot: a field hidden from people was filled in (a bot);
- too_fast: the form came back sooner than a person can read nine questions, or without
  the signed time it was served;
- burst: more responses at one desk in a short window than a desk can serve;
- replay: a form (its signed served-time token, which carries a random marker) that
  already brought a response: a bot that loads the form once, waits out the fill time and
  posts it many times without cookies;
- pattern: the same answers, element by element, more often at one desk within a short
  window than honest straight-lining produces.

The counters live in the rate-limit store (Redis in production, shared by the workers and
by every app server, under RATELIMIT_KEY_PREFIX like the rate limits); when it is down
the signals that need it are skipped (logged), never the response.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping

from flask import current_app
from itsdangerous import BadSignature, TimestampSigner, URLSafeSerializer
from limits import parse as parse_limit

from survey.web.extensions import limiter

COOLDOWN_COOKIE = "skm_recent"


def served_token() -> str:
    """A signed token holding the time the form was served and a random marker of this
    copy of the form."""
    return _signer().sign(secrets.token_urlsafe(12)).decode()


def _unsign(token: str | None) -> tuple[str, float] | None:
    """(marker, seconds since the form was served), or None for a missing or forged
    token."""
    if not token:
        return None
    try:
        marker, served = _signer().unsign(token, return_timestamp=True)
    except BadSignature:
        return None
    return marker.decode(), time.time() - served.timestamp()


def fill_seconds(token: str | None) -> float | None:
    unsigned = _unsign(token)
    return unsigned[1] if unsigned else None


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
              recent: dict[str, float] | None, now: float,
              answers: Mapping[str, int] | None = None) -> tuple[str, ...]:
    """The signals a submission raises. `recent` is None where no cooldown applies
    (an enrolled kiosk)."""
    config = current_app.config
    flags = []
    if recent is not None:
        last = recent.get(desk_slug)
        if last is not None and now - last < 60 * config["SURVEY_COOLDOWN_MINUTES"]:
            flags.append("cooldown")
    if honeypot:
        flags.append("honeypot")
    unsigned = _unsign(served)
    if unsigned is None or unsigned[1] < config["SURVEY_MIN_FILL_SECONDS"]:
        flags.append("too_fast")
    counters = [("burst", f"{config['SURVEY_BURST_LIMIT']} per "
                 f"{config['SURVEY_BURST_WINDOW_MINUTES']} minute", str(desk_id))]
    if unsigned is not None:  # one response per copy of the form; a day covers its life
        counters.append(("replay", "1 per day", unsigned[0]))
    if answers:
        pattern = ",".join(f"{code}={score}" for code, score in sorted(answers.items()))
        counters.append(("pattern", f"{config['SURVEY_PATTERN_LIMIT']} per "
                         f"{config['SURVEY_PATTERN_WINDOW_MINUTES']} minute",
                         f"{desk_id}:{pattern}"))
    # Under the installation's own prefix, as Flask-Limiter keys the rate limits: several
    # installations sharing one Redis number their desks alike, and must not count each
    # other's responses.
    prefix = str(config.get("RATELIMIT_KEY_PREFIX") or "")
    for flag, limit, key in counters:
        identifiers = (prefix, f"desk-{flag}", key) if prefix else (f"desk-{flag}", key)
        try:
            if not limiter.limiter.hit(parse_limit(limit), *identifiers):
                flags.append(flag)
        except Exception as error:  # the shared store is down: keep accepting, say so
            current_app.logger.warning("%s signal skipped, rate-limit store failed: %s",
                                       flag, error)
    return tuple(flags)
