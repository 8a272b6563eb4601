"""Public URLs are built from PUBLIC_BASE_URL, never from the request's Host header, so a
QR code or a printed link can only ever point at this site's configured address."""

from __future__ import annotations

from flask import current_app


def public_url(path: str) -> str:
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return base + "/" + path.lstrip("/")
