"""Sign-in and password forms (Flask-WTF, CSRF on), with messages in the user's language."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from survey.core.org.users import MIN_PASSWORD
from survey.web.forms import FILL_IN


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])


class ChangePasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"),
                            validators=[DataRequired(FILL_IN), Length(max=256)])
    new = PasswordField(_l("New password"), validators=[
        DataRequired(FILL_IN), Length(min=MIN_PASSWORD, max=256,
                                      message=_l("At least %(n)d characters.", n=MIN_PASSWORD))])
    repeat = PasswordField(_l("New password, again"), validators=[
        DataRequired(FILL_IN), EqualTo("new", message=_l("The two new passwords differ."))])
