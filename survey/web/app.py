"""The app factory: configuration, extensions, the explicit list of blueprints with their
access policies, error pages and security headers. The `flask` commands are added by
`survey.create_app`, which composes this factory with `survey.commands`."""

from __future__ import annotations

import contextlib
import os
from datetime import timedelta
from types import ModuleType
from typing import Any

from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from survey.core import models  # noqa: F401  (the tables on the metadata)
from survey.core.config import (
    check_secret_key,
    defaults,
    from_environment,
    public_base_url,
)
from survey.core.db import configure_engine, db
from survey.core.results import cache as figures_cache
from survey.web import (
    access,
    compression,
    health,
    i18n,
    labels,
    navigation,
    period_picker,
    replica,
    security,
)
from survey.web.admin import views as admin_views
from survey.web.api import tickets as api_tickets
from survey.web.api import views as api_views
from survey.web.audit import views as audit_views
from survey.web.auth import views as auth_views
from survey.web.dashboard import views as dashboard_views
from survey.web.desks import views as desk_views
from survey.web.extensions import babel, csrf, limiter, login_manager, migrate
from survey.web.forms import use_our_wtforms_messages
from survey.web.paper import views as paper_views
from survey.web.published import infographic as published_infographic
from survey.web.published import views as published_views
from survey.web.respond import kiosk_app
from survey.web.respond import sync as kiosk_sync
from survey.web.respond import views as respond_views
from survey.web.urls import public_url

MIGRATIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
                          "migrations")

# Every module with a blueprint. Each exposes `bp` and `POLICY` (its endpoints' access
# rules, merged into survey.web.access.POLICY); `CSRF_EXEMPT` marks the blueprints that
# authenticate machine clients by key instead of a session.
FEATURES: tuple[ModuleType, ...] = (
    respond_views, kiosk_app, kiosk_sync, i18n, auth_views, desk_views, dashboard_views,
    published_views, published_infographic, api_views, api_tickets, audit_views, admin_views,
    paper_views, health,
)


class RowIdConverter(IntegerConverter):
    """``<int:...>`` in every route: at most 2**31 - 1, the largest id of an integer
    column, so a longer number is a 404 instead of a database error. Response ids, which
    are 64-bit, say ``<int(max=...):...>``."""

    def __init__(self, map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the web application: defaults, then instance/config.py, then the environment,
    then `test_config` (tests only). Refuses to start in production with a known secret
    key."""
    test_config = dict(test_config or {})
    instance_path = test_config.pop("INSTANCE_PATH", None) or os.environ.get(
        "SURVEY_INSTANCE_PATH"
    )
    # Named "survey" (logs, instance folder at the repository root); templates, static
    # files and translations live beside this module.
    app = Flask("survey", root_path=os.path.dirname(__file__), instance_relative_config=True,
                instance_path=instance_path)
    app.url_map.converters["int"] = RowIdConverter
    app.config.from_mapping(defaults(app.instance_path))
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(from_environment(os.environ))
    app.config.update(test_config)
    check_secret_key(app.config, debug=app.debug, testing=app.testing)
    app.config["PUBLIC_BASE_URL"] = public_base_url(app.config)
    os.makedirs(app.instance_path, exist_ok=True)

    secure = app.config["PUBLIC_BASE_URL"].startswith("https://") and not app.debug
    for name in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"):
        if app.config[name] is None:
            app.config[name] = secure
    if isinstance(app.config["PERMANENT_SESSION_LIFETIME"], int):
        app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(
            seconds=app.config["PERMANENT_SESSION_LIFETIME"]
        )

    if app.config["TRUSTED_PROXIES"]:
        # Behind nginx: the client's address (rate limits, sign-in throttles) and scheme
        # come from the proxies' X-Forwarded-* headers, trusting exactly that many hops.
        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    _init_extensions(app)
    # A new application may sit on another database: nothing computed before is kept.
    figures_cache.FIGURES.clear()
    figures_cache.FIGURES.resize(app.config["SURVEY_FIGURES_CACHE_SIZE"])
    _register_blueprints(app)
    _register_error_pages(app)
    app.after_request(security.headers)
    app.after_request(compression.compress)  # runs first: the headers apply to it too
    return app


def _init_extensions(app: Flask) -> None:
    # Before CSRF protection (which parses the body first), so its checks never see what
    # no browser sends.
    app.before_request(security.refuse_unreadable_input)
    app.before_request(use_our_wtforms_messages)
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS, render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale)
    app.jinja_env.globals.update(
        current_locale=i18n.current_locale, field_labels=labels.FIELD_LABELS,
        choice_label=labels.choice_label, status_label=labels.status_label,
        flag_labels=labels.flag_labels,
        staff_menu=navigation.staff_menu,
        period_kinds=period_picker.KIND_LABELS,
        public_url=public_url)
    # Display labels: no template shows a stored code (survey/web/labels.py).
    app.jinja_env.globals.update(
        channel_label=labels.channel_label, review_status_label=labels.review_status_label,
        role_label=labels.role_label, action_label=labels.action_label,
        actor_label=labels.actor_label, audit_details=labels.audit_details,
        format_label=labels.format_label, granularity_label=labels.granularity_label,
        change_in_words=labels.change_in_words, change_direction=labels.change_direction)
    app.jinja_env.filters["num"] = i18n.number
    app.jinja_env.filters["pct"] = i18n.percent
    app.jinja_env.filters["local_time"] = app.jinja_env.filters["moment"] = i18n.local_time
    app.jinja_env.filters["long_date"] = i18n.long_date
    with app.app_context():
        configure_engine(db.engine)
    replica.init_app(app)


def _register_blueprints(app: Flask) -> None:
    for module in FEATURES:
        app.register_blueprint(module.bp)
        access.POLICY.update(module.POLICY)
        if getattr(module, "CSRF_EXEMPT", False):
            csrf.exempt(module.bp)
    app.before_request(access.enforce)


# The title and the sentence of each error page (a view's own translated description,
# where it gives one, replaces the sentence), and the machine code of the API's answer.
ERROR_TITLES = {
    400: lambda: _("The request could not be processed"),
    401: lambda: _("Please sign in"),
    403: lambda: _("Access denied"),
    404: lambda: _("Page not found"),
    405: lambda: _("This action is not possible here"),
    409: lambda: _("Already used"),
    410: lambda: _("No longer available"),
    413: lambda: _("File too large"),
    429: lambda: _("Too many attempts"),
    500: lambda: _("Something went wrong"),
    503: lambda: _("Temporarily unavailable"),
}
ERROR_SENTENCES = {
    400: lambda: _("The request was incomplete or not understood. Please go back and try "
                   "again."),
    401: lambda: _("Please sign in to see this page."),
    403: lambda: _("Your account may not open this page. If you need it, ask your "
                   "administrator for access."),
    404: lambda: _("The page you are looking for does not exist."),
    405: lambda: _("This page cannot be used this way. Please go back and use the links "
                   "and buttons of the page."),
    409: lambda: _("This was already done, or conflicts with a change made in the "
                   "meantime. Please reload the page."),
    410: lambda: _("This page is no longer available."),
    413: lambda: _("The file or form sent is too large. Please send a smaller file."),
    429: lambda: _("Too many attempts. Please try again in a few minutes."),
    500: lambda: _("An unexpected error stopped this page. It has been logged; please try "
                   "again."),
    503: lambda: _("The service cannot reach its database at the moment. Your answers were "
                   "not sent; please try again in a minute."),
}
ERROR_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 410: "gone", 413: "too_large",
               429: "rate_limited", 500: "server_error", 503: "unavailable"}


def _register_error_pages(app: Flask) -> None:
    def render(error: HTTPException):
        code = error.code or 500
        if isinstance(error, CSRFError):
            message = _("This form has expired or was not sent from this site. Please "
                        "reload the page and try again.")
        elif (code == 429 or not error.description
              or error.description == type(error).description):
            # Werkzeug's English sentence, or the rate limiter's "10 per 1 minute".
            message = ERROR_SENTENCES.get(code, ERROR_SENTENCES[400])()
        else:
            message = error.description  # the view's own, in the visitor's language
        headers = _kept_headers(error)
        if request.path.startswith("/api/"):
            machine = getattr(error, "reason_code", None) or ERROR_CODES.get(code, "error")
            return {"error": message, "status": code, "code": machine}, code, headers
        title = ERROR_TITLES.get(code, ERROR_TITLES[500])()
        return render_template("errors.html", title=title, message=message), code, headers

    for code in (400, 401, 403, 404, 405, 409, 410, 413, 429):
        app.register_error_handler(code, render)
    app.register_error_handler(CSRFError, render)

    def server_error(status: int, title: str, message: str, headers: dict[str, str]):
        """A 5xx page that needs nothing but the request: no database, no signed-in user
        (the staff menu of the other pages loads the user, which may be what failed)."""
        with contextlib.suppress(SQLAlchemyError):  # a lost connection has nothing to undo
            db.session.rollback()
        if request.path.startswith("/api/"):
            return {"error": message, "status": status, "code": ERROR_CODES[status]}, \
                status, headers
        return render_template("errors_server.html", title=title, message=message), \
            status, headers

    def unavailable(error: Exception):
        app.logger.warning("database unreachable: %s", error)
        return server_error(503, ERROR_TITLES[503](), ERROR_SENTENCES[503](),
                            {"Retry-After": "30"})

    def internal(error: InternalServerError):
        original = getattr(error, "original_exception", None)
        if isinstance(original, OperationalError | InterfaceError):
            return unavailable(original)
        return server_error(500, ERROR_TITLES[500](), ERROR_SENTENCES[500](), {})

    app.register_error_handler(OperationalError, unavailable)
    app.register_error_handler(InterfaceError, unavailable)
    app.register_error_handler(InternalServerError, internal)
    app.register_error_handler(503, lambda error: server_error(
        503, ERROR_TITLES[503](), ERROR_SENTENCES[503](), {"Retry-After": "30"}))


def _kept_headers(error: HTTPException) -> dict[str, str]:
    """Headers the exception carries that a client needs: Retry-After of a 429, Allow of a
    405, WWW-Authenticate of a 401."""
    response = error.get_response()
    return {k: v for k, v in response.headers.items()
            if k in ("Retry-After", "Allow", "WWW-Authenticate")}
