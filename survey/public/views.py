"""Public pages: the home page (and, with the citizen-survey feature, the survey form)."""

from __future__ import annotations

from flask import Blueprint, render_template

from ..extensions import db
from . import services

bp = Blueprint("public", __name__)


@bp.get("/")
def home():
    return render_template(
        "public/home.html",
        agencies=services.agency_directory(db.session),
        active_desks=services.active_desks,
    )
