"""`flask partitions`: the optional PostgreSQL layout with the response and answer tables
partitioned by period (survey.core.partitions), and keeping partitions ready ahead."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from survey.commands.options import user_errors
from survey.core import partitions
from survey.core.db import db

partitions_cli = AppGroup("partitions", help="PostgreSQL: responses partitioned by period.")


@partitions_cli.command("apply")
@click.option("--by", "grain", type=click.Choice(partitions.GRAINS), default="month",
              show_default=True, help="One partition per month or per year of the day.")
@click.option("--ahead", type=click.IntRange(0, 240), default=partitions.DEFAULT_AHEAD,
              show_default=True, help="Months after the current one to create now.")
@user_errors
def apply_command(grain: str, ahead: int) -> None:
    """Partition the response and answer tables (moving their rows, in one transaction:
    writes wait meanwhile). On a partitioned database it only creates partitions ahead."""
    report = partitions.apply(db.session, grain, ahead)
    db.session.commit()
    if report.converted:
        click.echo(f"Partitioned response and answer by {report.grain}: "
                   f"{report.responses} responses and {report.answers} answers moved, "
                   f"{len(report.created)} period partitions created.")
    else:
        click.echo(f"Already partitioned by {report.grain}; "
                   f"{len(report.created)} partitions created ahead.")


@partitions_cli.command("ahead")
@click.option("--ahead", type=click.IntRange(0, 240), default=partitions.DEFAULT_AHEAD,
              show_default=True, help="Months after the current one that must be ready.")
@user_errors
def ahead_command(ahead: int) -> None:
    """Create the partitions of the coming periods (run daily, e.g. from cron)."""
    report = partitions.ensure_ahead(db.session, ahead)
    db.session.commit()
    click.echo(f"{len(report.created)} partitions created"
               + (f": {', '.join(report.created)}" if report.created else "") + ".")


@partitions_cli.command("status")
@user_errors
def status_command() -> None:
    """Say whether the tables are partitioned, and which periods have partitions."""
    state = partitions.status(db.session)
    if not state.partitioned:
        click.echo("response and answer are ordinary tables (not partitioned).")
        return
    click.echo(f"partitioned by {state.grain}: {state.first} to {state.last}; "
               f"{state.default_rows} responses in the default partition (response_later).")


COMMANDS = (partitions_cli,)
