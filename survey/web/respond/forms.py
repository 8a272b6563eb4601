"""Parsing the citizen form. Its field names are a public contract (other tools post to
it): U1..U9 (U1..U14 on the 2004 questionnaire) with values 1..4, service, sex, age,
education, occupation, comment, csrf_token, idempotency_key; plus `t` (the signed time the
form was served) and the honeypot `website`.

Two kinds of bad input: what a person can get wrong with the real form (a question left
unanswered, a suggestion too long) is a validation error shown on the re-rendered form;
what the form cannot produce (an unknown element, a score of 7, a service of another desk,
a field sent twice) is forged and answered with 400. Either way nothing is stored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from survey.core.catalog import ServiceView
from survey.core.citizen import SurveyInput
from survey.core.models import COMMENT_MAX
from survey.core.profile import PROFILE
from survey.core.questionnaires import ElementView

SCORE_VALUES = {"1": 1, "2": 2, "3": 3, "4": 4}
NOT_STATED = "-"  # "prefer not to say"
KNOWN_FIELDS = {"service", "comment", "csrf_token", "idempotency_key", "t", "website",
                *PROFILE}
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")


class Forged(ValueError):
    """The request could not have come from our form: answer 400 with this reason."""


def parse(form: MultiDict, elements: Sequence[ElementView], services: Sequence[ServiceView]
          ) -> tuple[SurveyInput, dict[str, str]]:
    """Read a posted form; returns the input and the validation errors (field -> message)
    to show. Raises Forged for input the form cannot produce."""
    codes = [e.code for e in elements]
    for name in form:
        if len(form.getlist(name)) > 1:
            raise Forged(f"field {name!r} sent more than once")
        if name not in KNOWN_FIELDS and name not in codes:
            # A multipart part whose name Werkzeug cannot read arrives as None.
            if isinstance(name, str) and re.fullmatch(r"[Uu]\d+", name):
                raise Forged(f"element {name!r} is not on this questionnaire")
            raise Forged(f"unknown field {name!r}")
    data = SurveyInput()
    errors: dict[str, str] = {}
    for code in codes:
        raw = form.get(code, "")
        if raw == "":
            errors[code] = _("Please choose an answer.")
        elif raw in SCORE_VALUES:
            data.answers[code] = SCORE_VALUES[raw]
        else:
            raise Forged(f"score {raw!r} for {code} is not 1, 2, 3 or 4")
    by_id = {str(s.id): s for s in services}
    raw_service = form.get("service", "")
    if raw_service:
        if raw_service not in by_id:
            raise Forged("the service is not offered at this desk")
        data.service_id = by_id[raw_service].id
    elif services:
        errors["service"] = _("Please choose the service you received.")
    for name, allowed in PROFILE.items():
        raw = form.get(name, "")
        if raw in ("", NOT_STATED):
            data.profile[name] = None
        elif raw in allowed:
            data.profile[name] = raw
        else:
            raise Forged(f"{name} {raw!r} is not one of the choices")
    comment = form.get("comment", "").strip()
    if "\x00" in comment:  # no textarea sends NUL, and PostgreSQL text cannot store it
        raise Forged("the suggestion contains a NUL character")
    if len(comment) > COMMENT_MAX:
        errors["comment"] = _("Please shorten your suggestion to %(n)d characters.",
                              n=COMMENT_MAX)
    data.comment = comment or None
    key = form.get("idempotency_key", "")
    if key and not IDEMPOTENCY_KEY.fullmatch(key):  # match() with $ let "...\n" through
        raise Forged("idempotency_key must be 16-64 letters, digits, '-' or '_'")
    data.idempotency_key = key or None
    data.honeypot = bool(form.get("website", "").strip())
    data.served_token = form.get("t") or None
    return data, errors


class ReceiptCheckForm(FlaskForm):
    """The public receipt check: one code (POST, so it stays out of URLs and logs)."""

    code = StringField(_l("Receipt code"), validators=[
        DataRequired(_l("Please fill this in.")), Length(max=40)])
