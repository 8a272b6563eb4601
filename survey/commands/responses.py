"""`flask responses import FILE.csv`: the response import for operators, with the web
page's parser and rules (all agencies; the audit event names the actor "cli")."""

from __future__ import annotations

import os

import click
from flask import current_app
from flask.cli import AppGroup

from survey.commands.options import user_errors
from survey.core import imports, review
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
    checked = imports.check_file(db.session, data, allowed=None,
                                 max_rows=current_app.config["SURVEY_IMPORT_MAX_ROWS"])
    db.session.rollback()  # the check only read; the write transaction is short
    with write_transaction(db.session):
        summary = imports.store_file(db.session, checked, actor=None,
                                     filename=os.path.basename(path))
    channels = ", ".join(f"{k}: {v}" for k, v in sorted(summary.by_channel.items()))
    click.echo(f"Imported {summary.count} responses ({channels}) for "
               f"{', '.join(summary.agencies)}.")


@responses_cli.command("redact")
@click.option("--id", "response_id", required=True, type=int, help="The response's id.")
@click.option("--reason", required=True, help="Why, e.g. 'a phone number the mask missed'.")
@user_errors
def redact_command(response_id: int, reason: str) -> None:
    """Remove a comment for good (it stays out of every page and export); the hash chain
    still verifies."""
    with write_transaction(db.session):
        deleted = review.redact_comment(db.session, response_id, reason, None)
    click.echo(f"Comment of response {response_id} redacted"
               + ("." if deleted else "; it was recorded before comments could be deleted, "
                  "so its text stays in the database (covered by the hash chain) and is "
                  "shown nowhere."))


COMMANDS = (responses_cli,)
