"""Requests larger than the application's 64 KB body limit (CSV uploads, long paper
sheets), allowed per view and nowhere else."""

from __future__ import annotations

from flask import request

from ..extensions import csrf

UPLOAD_LIMIT = 20 * 1024 * 1024  # a CSV upload
SHEET_LIMIT = 1024 * 1024  # a paper sheet: many rows, each with a comment of up to 1,000 chars


def large_post(limit: int) -> None:
    """Allow a larger body for this request, then check CSRF. The view must be marked
    `@csrf.exempt`: the global CSRF hook reads the body before the view could raise the
    limit, and would answer 413 to anything above the default."""
    request.max_content_length = limit
    if request.method == "POST":
        csrf.protect()
