"""Request and response hygiene: input no browser sends is refused before anything else
reads it, and every response carries the security headers."""

from __future__ import annotations

from flask import Response, abort, current_app, request
from flask_babel import gettext as _


def refuse_unreadable_input() -> None:
    """400 for a NUL character in the path, the query or a form field, and for a form
    field whose name could not be read. PostgreSQL cannot store NUL in text, and
    Flask-WTF's CSRF check fails on an unnamed multipart field; a form from a browser
    never contains either. Large uploads are left to their views (which raise the size
    limit), so that this check never reads a body the application would refuse."""
    if "\x00" in request.path or any(
            "\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)):
        abort(400, description=_("The address contains a character no link has (NUL)."))
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is not None and (request.content_length or 0) > limit:
        return
    for name, value in request.form.items(multi=True):
        if name is None or "\x00" in name or "\x00" in value:
            abort(400, description=_("The form contains a character no page sends (NUL). Please "
                                 "type the text again."))


def headers(response: Response) -> Response:
    """after_request: security headers on every response (a view may set its own)."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
    return response
