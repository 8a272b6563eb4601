"""`flask ikm ...`: results from the database, and rollup maintenance."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from ..cli import user_errors
from ..database import write_transaction
from ..errors import NotFound, ValidationError
from ..extensions import db
from ..ikm.cli import render_table
from ..ikm.engine import to_json_dict
from ..ikm.standards import WEIGHT_MODES
from ..periods import PeriodError, parse_period
from . import queries, rollups

ikm_cli = AppGroup("ikm", help="The index (IKM) from the database.")


@ikm_cli.command("report")
@click.option("--agency", "agency_code", required=True)
@click.option("--desk", "desk_code", help="Only this desk (computed within its agency).")
@click.option("--period", "period_key", required=True,
              help="2024, 2024-S1, 2024-Q3, 2024-05, 2024-01-15..2024-03-14 or 2024-01..2024-04")
@click.option("--scope", type=click.Choice(queries.SCOPES), default="clean",
              show_default=True, help="clean: flagged responses excluded; all: included.")
@click.option("--weights", type=click.Choice(WEIGHT_MODES), default="exact",
              show_default=True)
@click.option("--confidence", type=float, default=0.95, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@user_errors
def report(agency_code, desk_code, period_key, scope, weights, confidence, fmt) -> None:
    """Print the index of an agency (and of each of its desks) for a period. The JSON is
    the same as `ikm compute` gives for an export of the same responses."""
    try:
        period = parse_period(period_key)
    except PeriodError as exc:
        raise ValidationError(str(exc)) from None
    result = queries.agency_report(db.session, agency_code, period, scope, weights,
                                   confidence)
    group = result.result
    only = None
    if desk_code:
        keys = {d.code: d.key for d in result.scope.desks if d.agency_code == agency_code}
        if desk_code not in keys:
            raise NotFound(f"agency {agency_code} has no desk {desk_code!r} on this "
                           "questionnaire")
        only = keys[desk_code]
    standard = result.scope.questionnaire.standard
    if fmt == "json":
        payload = to_json_dict(group)
        if only is not None:  # the desk's row, computed within its agency
            payload["results"] = [r for r in payload["results"] if r["desk"] == only]
        click.echo(json.dumps(payload, ensure_ascii=False, indent=1))
    else:
        click.echo(f"{result.scope.agency.name} — {period.label('en')} ({period.key})")
        click.echo(render_table([group], standard, weights, confidence, only_desk=only),
                   nl=False)
    for desk in result.scope.excluded:
        click.echo(f"note: desk {desk.key} uses another questionnaire and is reported "
                   "separately", err=True)


@ikm_cli.command("rebuild-rollups")
@user_errors
def rebuild_rollups() -> None:
    """Recompute the per-desk rollups from the raw responses (a cache; safe to run)."""
    with write_transaction(db.session):
        rows = rollups.rebuild(db.session)
    click.echo(f"Rebuilt rollups: {rows} rows written.")
