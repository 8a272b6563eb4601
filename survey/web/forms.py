"""Form pieces shared by the staff pages (Flask-WTF, CSRF on), with the messages a person
can meet in the user's language (WTForms ships no Indonesian ones)."""

from __future__ import annotations

from collections.abc import Iterable

from flask import request
from flask_babel import get_translations
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

FILL_IN = _l("Please fill this in.")
TOO_LONG = _l("At most %(max)d characters.")

# WTForms' own messages that a form of this application can show (an option that is not
# on the list, a field left empty): WTForms has no Indonesian catalogue, so they are
# translated in ours, both forms of the plural ones as separate entries.
WTFORMS_MESSAGES = (
    _l("This field is required."), _l("Not a valid choice."), _l("Invalid input."),
    _l("'%(value)s' is not a valid choice for this field."),
    _l("'%(value)s' are not valid choices for this field."),
    _l("Invalid Choice: could not coerce."),
    _l("Invalid choice(s): one or more data inputs could not be coerced."),
    _l("Field must be equal to %(other_name)s."),
    _l("Field cannot be longer than %(max)d character."),
    _l("Field cannot be longer than %(max)d characters."),
    _l("Field must be at least %(min)d character long."),
    _l("Field must be at least %(min)d characters long."),
    _l("Field must be between %(min)d and %(max)d characters long."),
)


class _WTFormsMessages:
    """What Flask-WTF asks for WTForms' messages, answered from this application's
    catalogue (a plural message by its singular or plural entry)."""

    def ugettext(self, string: str) -> str:
        return get_translations().gettext(string)

    def ungettext(self, singular: str, plural: str, n: int) -> str:
        return get_translations().gettext(singular if n == 1 else plural)


def use_our_wtforms_messages() -> None:
    """before_request: Flask-WTF takes the translations of WTForms' messages from
    `request.wtforms_translations` when set (flask_wtf.i18n)."""
    request.wtforms_translations = _WTFormsMessages()  # type: ignore[attr-defined]


def choices(pairs: Iterable[tuple[object, object]]) -> list[SelectChoice]:
    """Options for a select or check-box list (WTForms wants SelectChoice objects)."""
    return [SelectChoice(value, label) for value, label in pairs]


class MultiCheckboxField(SelectMultipleField):
    """A list of check boxes: usable by keyboard and screen readers, unlike a multi-select."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class UploadForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Choose a file."))])
