"""`flask responses import FILE.csv`: the response import for operators, with the web
page's parser and rules (all agencies; the audit event names the actor "cli")."""

from __future__ import annotations

import os

import click
from flask.cli import AppGroup

from survey.commands.options import user_errors
from survey.core import imports
from survey.core.db import db, write_transaction

responses_cli = AppGroup("responses", help="Responses collected elsewhere (paper, other tools).")


@responses_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@user_errors
def import_command(path: str) -> None:
    """Import responses from a CSV file in the canonical (export) format. Nothing is
    stored when any line is wrong; the message names the line and column."""
    with open(path, "rb") as fh:
        data = fh.read()
    with write_transaction(db.session):
        summary = imports.import_csv(db.session, data, allowed=None, actor=None,
                                     filename=os.path.basename(path))
    channels = ", ".join(f"{k}: {v}" for k, v in sorted(summary.by_channel.items()))
    click.echo(f"Imported {summary.count} responses ({channels}) for "
               f"{', '.join(summary.agencies)}.")


COMMANDS = (responses_cli,)
