"""`flask user ...`: staff accounts and their API tokens."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from survey.commands.options import user_errors
from survey.core.db import db, write_transaction
from survey.core.models import ROLES
from survey.core.org import users

user_cli = AppGroup("user", help="Manage staff accounts.")


@user_cli.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--agency", "agency_codes", multiple=True,
              help="Agency the user may see (repeatable; managers and desk staff need one).")
@click.option("--name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@user_errors
def user_create(email: str, role: str, agency_codes: tuple[str, ...], name: str | None,
                password_stdin: bool) -> None:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with write_transaction(db.session):
        user = users.create_user(db.session, email, password, role, agency_codes, name,
                                 actor=None)
    click.echo(f"Created {user.role} {user.email}.")


@user_cli.command("token")
@click.option("--email", required=True)
@click.option("--name", default="", help="What the token is for, e.g. 'BI dashboard'.")
@user_errors
def user_token(email: str, name: str) -> None:
    """Create a bearer token for the read API; printed once."""
    with write_transaction(db.session):
        token = users.create_api_token(db.session, users.get_user(db.session, email), name,
                                       actor=None)
    click.echo(token)


COMMANDS = (user_cli,)
