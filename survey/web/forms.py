"""Form pieces shared by the staff pages (Flask-WTF, CSRF on), with the messages a person
can meet in the user's language (WTForms ships no Indonesian ones)."""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

FILL_IN = _l("Please fill this in.")
TOO_LONG = _l("At most %(max)d characters.")


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
