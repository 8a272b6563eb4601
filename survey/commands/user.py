"""`flask user ...`: staff accounts and their API tokens."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from survey.commands.options import user_errors
from survey.core.db import db, utcnow, write_transaction
from survey.core.errors import ValidationError
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
@click.option("--email", help="Create a token for this user.")
@click.option("--name", default="", help="What the token is for, e.g. 'BI dashboard'.")
@click.option("--days", type=int, default=users.TOKEN_DAYS, show_default=True,
              help="Validity in days.")
@click.option("--revoke", "revoke_id", type=int, help="Revoke the token with this id instead.")
@user_errors
def user_token(email: str | None, name: str, days: int, revoke_id: int | None) -> None:
    """Create a bearer token for the read API (printed once), or revoke one."""
    if (email is None) == (revoke_id is None):
        raise ValidationError("give either --email (to create a token) or --revoke ID")
    with write_transaction(db.session):
        if revoke_id is not None:
            token = users.revoke_api_token(db.session, revoke_id, actor=None)
            click.echo(f"Revoked token {token.id} ({token.name or 'no name'}) of "
                       f"{token.user.email}.")
            return
        created = users.create_api_token(db.session, users.get_user(db.session, email), name,
                                         days=days, actor=None)
    click.echo(created)


@user_cli.command("tokens")
@click.option("--email", help="Only this user's tokens.")
@user_errors
def user_tokens(email: str | None) -> None:
    """List API tokens: id, user, name, created, valid until, last used, state."""
    owner = users.get_user(db.session, email) if email else None
    rows = users.api_tokens(db.session, owner)
    if not rows:
        click.echo("No API tokens.")
    now = utcnow()
    for t in rows:
        state = ("revoked " + t.revoked_at.date().isoformat() if t.revoked_at else
                 "expired" if t.expires_at is not None and t.expires_at <= now else "active")
        until = t.expires_at.date().isoformat() if t.expires_at else "never"
        used = t.last_used_at.date().isoformat() if t.last_used_at else "-"
        click.echo(f"{t.id:>5}  {t.user.email:<32} {t.name or '-':<20} created "
                   f"{t.created_at.date().isoformat()}  until {until}  last used {used}  "
                   f"{state}")


COMMANDS = (user_cli,)
