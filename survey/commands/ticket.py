"""`flask ticket issue`: one-time visit tickets, whose responses count as verified."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from survey.commands.options import user_errors
from survey.core import links, tickets
from survey.core.db import db, write_transaction
from survey.core.org import desks

ticket_cli = AppGroup("ticket", help="One-time visit tickets (verified responses).")


@ticket_cli.command("issue")
@click.option("--agency", "agency_code", required=True)
@click.option("--desk", "desk_code", required=True)
@click.option("--count", default=1, show_default=True, type=int)
@click.option("--hours", default=None, type=int, help="Validity (default TICKET_TTL_HOURS).")
@user_errors
def ticket_issue(agency_code: str, desk_code: str, count: int, hours: int | None) -> None:
    """Print the URLs of new one-time tickets, one per line."""
    ttl = hours if hours is not None else current_app.config["TICKET_TTL_HOURS"]
    with write_transaction(db.session):
        desk = desks.get_desk(db.session, agency_code, desk_code)
        tokens = tickets.issue(db.session, desk, count, ttl)
    base = current_app.config["PUBLIC_BASE_URL"]
    for token in tokens:
        click.echo(links.ticket_url(base, token))


COMMANDS = (ticket_cli,)
