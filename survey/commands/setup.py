"""`flask init` (migrations, the standard questionnaires, the signing key) and `flask demo`
(a demo Mal Pelayanan Publik with two years of responses)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade
from sqlalchemy import func, select

from survey.commands.options import user_errors
from survey.core.db import db, write_transaction
from survey.core.models import Response
from survey.core.org.checks import parse_month
from survey.core.periods import add_months, local_today
from survey.core.results.raw import missing_rollups, rebuild_rollups
from survey.core.seed import DEMO_PASSWORD, DEMO_USERS, seed_demo, seed_standards
from survey.core.signing import ensure_keypair


@click.command("init")
@with_appcontext
def init_command() -> None:
    """Apply the database migrations and seed the standard questionnaires."""
    upgrade()
    with write_transaction(db.session):
        created = seed_standards(db.session)
    click.echo("Database is up to date.")
    if ensure_keypair(current_app.instance_path):
        click.echo(f"Created the export signing key pair in {current_app.instance_path}.")
    if missing_rollups(db.session):
        with write_transaction(db.session):
            rebuild_rollups(db.session)
        click.echo("Rebuilt the result rollups from the stored responses.")
    for code in created:
        click.echo(f"Seeded questionnaire {code}.")


@click.command("demo")
@with_appcontext
@click.option("--end-month", help="Last month of the six demo months (default: last month).")
@click.option("--seed", default=20171, show_default=True, type=int)
@user_errors
def demo_command(end_month: str | None, seed: int) -> None:
    """Seed a Mal Pelayanan Publik with twelve agencies and two years of responses."""
    today = local_today(current_app.config["TIMEZONE"])
    end = parse_month(end_month) if end_month else add_months(today, -1)
    with write_transaction(db.session):
        counts = seed_demo(db.session, end, seed, today=today)
    if not counts:
        total = db.session.scalar(select(func.count()).select_from(Response))
        click.echo(f"Demo data already present ({total} responses); nothing changed.")
        return
    click.echo(
        f"Demo seeded: {counts['agencies']} agencies, {counts['desks']} desks, "
        f"{counts['services']} services, {counts['responses']} responses; "
        f"{counts['closed']} periods that have ended closed and published."
    )
    click.echo(f"Demo accounts (password {DEMO_PASSWORD!r}): "
               + ", ".join(email for _role, email, _agencies in DEMO_USERS))
    click.echo(f"Open {current_app.config['PUBLIC_BASE_URL']}/")


COMMANDS = (init_command, demo_command)
