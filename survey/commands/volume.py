"""`flask volume ...`: service volumes, the citizens served (the survey's population), one
value at a time or from the same CSV file the admin page imports."""

from __future__ import annotations

import os

import click
from flask.cli import AppGroup

from survey.commands.options import user_errors
from survey.core.db import db, write_transaction
from survey.core.errors import ValidationError
from survey.core.org import desks, volumes
from survey.core.org.checks import parse_day, parse_month

volume_cli = AppGroup("volume", help="Service volumes: citizens served, the survey population.")


@volume_cli.command("set")
@click.option("--agency", "agency_code", required=True)
@click.option("--desk", "desk_code", required=True)
@click.option("--month", help="Month, e.g. 2024-05.")
@click.option("--day", help="Day, e.g. 2024-05-31 (when the queue system reports daily).")
@click.option("--count", required=True, type=int, help="Citizens served (>= 0).")
@user_errors
def volume_set(agency_code: str, desk_code: str, month: str | None, day: str | None,
               count: int) -> None:
    if bool(month) == bool(day):
        raise ValidationError("give exactly one of --month or --day")
    with write_transaction(db.session):
        desk = desks.get_desk(db.session, agency_code, desk_code)
        granularity, start = (("month", parse_month(month)) if month else
                              ("day", parse_day(day)))
        volumes.set_volume(db.session, desk, granularity, start, count, actor=None)
    click.echo(f"{agency_code}/{desk_code} {granularity} {start.isoformat()}: {count} served.")


@volume_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@user_errors
def volume_import(path: str) -> None:
    """Import monthly volumes from a CSV file with the header agency,desk,month,count.
    Nothing is stored when any line is wrong; the message names the line."""
    with open(path, "rb") as fh:
        data = fh.read()
    with write_transaction(db.session):
        count = volumes.import_csv(db.session, data, allowed=None, actor=None,
                                   filename=os.path.basename(path))
    click.echo(f"Imported {count} monthly volumes from {path}.")


COMMANDS = (volume_cli,)
