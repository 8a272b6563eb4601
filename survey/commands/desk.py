"""`flask desk ...`: service desks (loket), their survey links, QR codes, posters and the
API keys of queue systems."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from survey.commands.options import user_errors
from survey.core import links, posters, qr
from survey.core.db import db, write_transaction
from survey.core.errors import ValidationError
from survey.core.models import Agency, Desk
from survey.core.org import agencies, desks
from survey.core.org.desks import DEFAULT_QUESTIONNAIRE

desk_cli = AppGroup("desk", help="Manage service desks (loket) and their survey links.")


def _base_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"]


@desk_cli.command("create")
@click.option("--agency", "agency_code", required=True)
@click.option("--code", required=True, help="Desk code within the agency, e.g. L1.")
@click.option("--name", required=True)
@click.option("--location")
@click.option("--questionnaire", default=DEFAULT_QUESTIONNAIRE, show_default=True)
@user_errors
def desk_create(agency_code: str, code: str, name: str, location: str | None,
                questionnaire: str) -> None:
    with write_transaction(db.session):
        desk = desks.create_desk(db.session, agency_code, code, name, location, questionnaire,
                                 actor=None)
    click.echo(f"Created desk {agency_code}/{desk.code}: {links.survey_url(_base_url(), desk)}")


@desk_cli.command("list")
@click.option("--agency", "agency_code", help="Only this agency's desks.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@user_errors
def desk_list(agency_code: str | None, fmt: str) -> None:
    query = select(Desk, Agency.code).join(Agency).order_by(Agency.code, Desk.code)
    if agency_code:
        query = query.where(Desk.agency_id == agencies.get_agency(db.session, agency_code).id)
    rows = [
        {"agency": code, "code": desk.code, "name": desk.name,
         "url": links.survey_url(_base_url(), desk), "active": desk.active}
        for desk, code in db.session.execute(query)
    ]
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        state = "" if row["active"] else "  (inactive)"
        click.echo(f"{row['agency']:<14} {row['code']:<8} {row['name']:<36} {row['url']}{state}")


@desk_cli.command("qr")
@click.option("--agency", "agency_code", required=True)
@click.option("--desk", "desk_code", required=True)
@click.option("--format", "fmt", type=click.Choice(["png", "svg", "pdf"]), required=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True))
@user_errors
def desk_qr(agency_code: str, desk_code: str, fmt: str, out: str) -> None:
    """Write a desk's QR code (PNG or SVG) or its printable A4 poster (PDF)."""
    desk = desks.get_desk(db.session, agency_code, desk_code)
    url = links.survey_url(_base_url(), desk)
    body = posters.posters_pdf(_base_url(), [desk]) if fmt == "pdf" else qr.image(url, fmt)[0]
    with open(out, "wb") as fh:
        fh.write(body)
    click.echo(f"Wrote {out} for {url}")


@desk_cli.command("posters")
@click.option("--agency", "agency_code", required=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True))
@user_errors
def desk_posters(agency_code: str, out: str) -> None:
    """Write one PDF with the A4 posters of all active desks of an agency."""
    agency = agencies.get_agency(db.session, agency_code)
    active = [d for d in desks.desks_of(db.session, {agency.id}) if d.active]
    if not active:
        raise ValidationError(f"agency {agency_code} has no active desks")
    with open(out, "wb") as fh:
        fh.write(posters.posters_pdf(_base_url(), active))
    click.echo(f"Wrote {out}: {len(active)} posters.")


@desk_cli.command("api-key")
@click.option("--agency", "agency_code", required=True)
@click.option("--desk", "desk_code", required=True)
@user_errors
def desk_api_key(agency_code: str, desk_code: str) -> None:
    """Create (or replace) the desk's API key for queue systems; printed once."""
    with write_transaction(db.session):
        desk = desks.get_desk(db.session, agency_code, desk_code)
        key = desks.new_api_key(db.session, desk, actor=None)
    click.echo(key)


COMMANDS = (desk_cli,)
