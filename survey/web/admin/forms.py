"""Forms of the admin pages (Flask-WTF, CSRF on). They check what a person typing can get
wrong, with messages in the user's language; the core checks the rest (duplicates,
cycles, scope) and its reasons are shown as they are."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    Field,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Length, Optional, Regexp
from wtforms.validators import ValidationError as FieldError

from survey.core.models import CODE_PATTERN, ROLES, Desk
from survey.core.org.users import MIN_PASSWORD
from survey.core.org.volumes import MAX_COUNT
from survey.core.periods import PeriodError, parse_period
from survey.web.forms import FILL_IN, TOO_LONG, MultiCheckboxField, choices
from survey.web.labels import ROLE_LABELS

# The three Indonesian time zones; an agency's zone decides which day a response falls on.
TIMEZONES = (
    ("Asia/Jakarta", _l("WIB (Asia/Jakarta)")),
    ("Asia/Makassar", _l("WITA (Asia/Makassar)")),
    ("Asia/Jayapura", _l("WIT (Asia/Jayapura)")),
)

NAME = [DataRequired(FILL_IN), Length(max=200, message=TOO_LONG)]
OPTIONAL_NAME = [Optional(), Length(max=200, message=TOO_LONG)]
CODE_MESSAGE = _l("Use 1 to 40 letters, digits, '.', '_' or '-', starting with a letter or "
                  "digit.")


def _nip(_form: FlaskForm, field: Field) -> None:
    digits = (field.data or "").replace(" ", "")
    if digits and not re.fullmatch(r"\d{18}", digits):
        raise FieldError(_("The NIP has 18 digits."))


class AgencyForm(FlaskForm):
    name = StringField(_l("Name"), validators=NAME)
    parent = SelectField(_l("Parent agency"), choices=[], default="")
    timezone = SelectField(_l("Time zone"), choices=choices(TIMEZONES))
    head_name = StringField(_l("Head of unit (name for the report's signature)"),
                            validators=OPTIONAL_NAME)
    head_nip = StringField(_l("NIP of the head of unit"), validators=[Optional(), _nip])


class AgencyCreateForm(AgencyForm):
    code = StringField(_l("Code"), validators=[DataRequired(FILL_IN), Regexp(CODE_PATTERN,
                                                                      message=CODE_MESSAGE)])


class DeskForm(FlaskForm):
    name = StringField(_l("Name"), validators=NAME)
    location = StringField(_l("Location"), validators=OPTIONAL_NAME)
    services = MultiCheckboxField(_l("Services offered at this desk"), coerce=int, choices=[])


class DeskCreateForm(DeskForm):
    code = StringField(_l("Code"), validators=[DataRequired(FILL_IN), Regexp(CODE_PATTERN,
                                                                      message=CODE_MESSAGE)])
    questionnaire = SelectField(_l("Questionnaire"), choices=[])


class ServiceForm(FlaskForm):
    name_id = StringField(_l("Name (Bahasa Indonesia)"),
                          validators=NAME)
    name_en = StringField(_l("Name (English)"), validators=OPTIONAL_NAME)
    active = BooleanField(_l("Offered (shown on the citizen form)"), default=True)
    desks = MultiCheckboxField(_l("Desks offering it"), coerce=int, choices=[])


class ServiceCreateForm(ServiceForm):
    code = StringField(_l("Code"), validators=[DataRequired(FILL_IN), Regexp(CODE_PATTERN,
                                                                      message=CODE_MESSAGE)])


class UserForm(FlaskForm):
    name = StringField(_l("Name"), validators=OPTIONAL_NAME)
    role = SelectField(_l("Role"), choices=choices((r, ROLE_LABELS[r]) for r in ROLES))
    agencies = MultiCheckboxField(_l("Agencies (with the agencies below them)"), choices=[])

    def validate_agencies(self, field: Field) -> None:
        if self.role.data in ("agency_manager", "desk_staff") and not field.data:
            raise FieldError(_("Agency managers and desk staff need at least one agency."))


class UserCreateForm(UserForm):
    email = EmailField(_l("E-mail"), validators=[
        DataRequired(FILL_IN), Length(max=254, message=TOO_LONG),
        Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Enter an e-mail address."))])
    password = PasswordField(_l("Initial password"), validators=[
        DataRequired(FILL_IN), Length(min=MIN_PASSWORD, max=256,
                               message=_l("At least %(n)d characters.", n=MIN_PASSWORD))])


class UserEditForm(UserForm):
    active = BooleanField(_l("Active (may sign in)"))


class PasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[
        DataRequired(FILL_IN), Length(min=MIN_PASSWORD, max=256,
                               message=_l("At least %(n)d characters.", n=MIN_PASSWORD))])


def _period_key(_form: FlaskForm, field: Field) -> None:
    try:
        parse_period(field.data or "")
    except PeriodError:
        message = _("Use a period key such as 2024, 2024-S1, 2024-Q3 or 2024-05.")
        raise FieldError(message) from None


class PeriodForm(FlaskForm):
    key = StringField(_l("Period"), validators=[DataRequired(FILL_IN),
                                                Length(max=30, message=TOO_LONG), _period_key])


class ReopenForm(FlaskForm):
    reason = StringField(_l("Reason for reopening (shown in the audit log)"), validators=[
        DataRequired(_l("Give the reason for reopening the period.")),
        Length(max=500, message=TOO_LONG)])


class SlugForm(FlaskForm):
    confirm = BooleanField(
        _l("I understand that printed QR codes and posters of this desk stop working."),
        validators=[DataRequired(message=_l("Tick the box to confirm."))])


def grid_name(desk_id: int, month: int) -> str:
    return f"v-{desk_id}-{month}"


def parse_grid(form: Mapping[str, str], desks: Iterable[Desk]
               ) -> tuple[dict[tuple[int, int], int | None], dict[str, str]]:
    """Read the volume grid: (desk id, month) -> count or None (empty: unknown), and the
    errors per input name."""
    values: dict[tuple[int, int], int | None] = {}
    errors: dict[str, str] = {}
    for desk in desks:
        for month in range(1, 13):
            name = grid_name(desk.id, month)
            raw = (form.get(name) or "").strip()
            if not raw:
                values[(desk.id, month)] = None
            elif re.fullmatch(r"[0-9]{1,10}", raw) and int(raw) <= MAX_COUNT:
                values[(desk.id, month)] = int(raw)
            else:
                errors[name] = _("Enter a whole number (0 or more) or leave it empty.")
    return values, errors
