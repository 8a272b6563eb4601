"""Survei Kepuasan Masyarakat: the citizen satisfaction survey and its index (IKM)."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .config import check_secret_key, defaults, from_environment

# Flask is imported inside create_app, so that `import survey.ikm` (the pure engine and the
# stand-alone `ikm` command) never loads it.
if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the application: defaults, then instance/config.py, then the environment, then
    `test_config` (tests only). Refuses to start in production with a known secret key."""
    from flask import Flask

    test_config = dict(test_config or {})
    instance_path = test_config.pop("INSTANCE_PATH", None) or os.environ.get(
        "SURVEY_INSTANCE_PATH"
    )
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    app.config.from_mapping(defaults(app.instance_path))
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(from_environment(os.environ))
    app.config.update(test_config)
    check_secret_key(app.config, debug=app.debug, testing=app.testing)
    os.makedirs(app.instance_path, exist_ok=True)

    secure = app.config["PUBLIC_BASE_URL"].startswith("https://") and not app.debug
    for name in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"):
        if app.config[name] is None:
            app.config[name] = secure
    if isinstance(app.config["PERMANENT_SESSION_LIFETIME"], int):
        app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(
            seconds=app.config["PERMANENT_SESSION_LIFETIME"]
        )

    _init_extensions(app)
    _register_blueprints(app)
    _register_cli(app)
    _register_security_headers(app)
    return app


def _init_extensions(app: Flask) -> None:
    from . import auth, models  # noqa: F401  (tables on the metadata, the user loader)
    from .database import configure_engine
    from .extensions import babel, csrf, db, limiter, login_manager, migrate
    from .i18n import current_locale, number, percent, select_locale
    from .security import refuse_unreadable_input

    # Before CSRF protection (which parses the body first), so its checks never see what
    # no browser sends.
    app.before_request(refuse_unreadable_input)
    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations"),
        render_as_batch=True,
        compare_type=True,
    )
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals["current_locale"] = current_locale
    app.jinja_env.filters["num"] = number
    app.jinja_env.filters["pct"] = percent
    with app.app_context():
        configure_engine(db.engine)


# Feature modules with blueprints. Each exposes `blueprints` (a list) and `POLICY` (its
# endpoints' access rules, merged into survey.access.POLICY); `CSRF_EXEMPT` lists
# blueprints that authenticate machine clients by key instead of a session.
BLUEPRINT_MODULES = (
    "survey.public.views",
    "survey.i18n",
    "survey.auth.views",
    "survey.desks.views",
    "survey.dashboard.views",
    "survey.publik.views",
    "survey.api.views",
    "survey.audit.views",
    "survey.admin.views",
    "survey.paper.views",
)


def _register_blueprints(app: Flask) -> None:
    import importlib

    from . import access
    from .extensions import csrf
    from .public.labels import FIELD_LABELS, choice_label, status_label

    for name in BLUEPRINT_MODULES:
        module = importlib.import_module(name)
        for blueprint in module.blueprints:
            app.register_blueprint(blueprint)
        access.POLICY.update(getattr(module, "POLICY", {}))
        for blueprint in getattr(module, "CSRF_EXEMPT", ()):
            csrf.exempt(blueprint)
    app.before_request(access.enforce)
    from .urls import public_url

    app.jinja_env.globals.update(field_labels=FIELD_LABELS, choice_label=choice_label,
                                 status_label=status_label, public_url=public_url)
    _register_error_pages(app)


def _register_error_pages(app: Flask) -> None:
    from flask import render_template, request
    from flask_babel import gettext as _
    from flask_wtf.csrf import CSRFError
    from werkzeug.exceptions import HTTPException

    titles = {
        400: lambda: _("The request could not be processed"),
        401: lambda: _("Please sign in"),
        403: lambda: _("Not allowed"),
        404: lambda: _("Page not found"),
        405: lambda: _("Not allowed"),
        409: lambda: _("Already used"),
        410: lambda: _("No longer available"),
        413: lambda: _("Too large"),
        429: lambda: _("Too many requests"),
    }
    defaults = {
        404: lambda: _("The page you are looking for does not exist."),
        429: lambda: _("Too many requests from your network. Please wait a minute and try "
                       "again."),
    }

    def render(error: HTTPException):
        code = error.code or 500
        if isinstance(error, CSRFError):
            message = _("This form has expired or was not sent from this site. Please "
                        "reload the page and try again.")
        elif code in defaults and (not error.description or
                                   error.description == type(error).description):
            message = defaults[code]()
        else:
            message = error.description
        if request.path.startswith("/api/"):
            return {"error": message, "status": code}, code
        title = titles.get(code, lambda: _("Something went wrong"))()
        return render_template("errors.html", title=title, message=message), code

    for code in (400, 401, 403, 404, 405, 409, 410, 413, 429):
        app.register_error_handler(code, render)
    app.register_error_handler(CSRFError, render)


def _register_cli(app: Flask) -> None:
    from .cli import register

    register(app)


def _register_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
        return response
