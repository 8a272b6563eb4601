"""Uploads and long forms: requests larger than the application's 64 KB body limit (CSV
uploads, long paper sheets) are allowed per view and nowhere else, and every CSV import
page follows the same flow."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect, render_template, request

from survey.core.db import db, write_transaction
from survey.core.errors import ValidationError
from survey.web.extensions import csrf
from survey.web.forms import UploadForm
from survey.web.messages import message_for

UPLOAD_LIMIT = 20 * 1024 * 1024  # a CSV upload
SHEET_LIMIT = 1024 * 1024  # a paper sheet: many rows, each with a comment of up to 1,000 chars


def large_post(limit: int) -> None:
    """Allow a larger body for this request, then check CSRF. The view must be marked
    `@csrf.exempt`: the global CSRF hook reads the body before the view could raise the
    limit, and would answer 413 to anything above the default."""
    request.max_content_length = limit
    if request.method == "POST":
        csrf.protect()


def upload_page(template: str, store: Callable[..., str], done: str,
                check: Callable[[bytes], Any] | None = None, **context: Any):
    """A CSV import page (its view marked `@csrf.exempt`): GET shows the upload form; a
    posted file goes to `store` in one write transaction, all or nothing; its message is
    shown after a redirect to `done`, or its ValidationError (naming the line) on the
    form with status 422.

    With `check`, the file is checked first, outside the write transaction (other users
    keep writing meanwhile), and `store` gets what `check` returned instead of the bytes.
    """
    large_post(UPLOAD_LIMIT)
    form = UploadForm()
    errors: list[str] = []
    if form.validate_on_submit():
        upload = form.file.data
        try:
            payload = upload.read()
            if check is not None:
                payload = check(payload)
                db.session.rollback()  # end the read transaction before the write one
            with write_transaction(db.session):
                message = store(payload, upload.filename)
        except ValidationError as exc:
            errors.append(message_for(exc))
        else:
            flash(message)
            return redirect(done, code=303)
    status = 422 if form.is_submitted() else 200
    return render_template(template, form=form, errors=errors, **context), status
