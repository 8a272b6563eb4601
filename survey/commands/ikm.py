"""`flask ikm ...`: the index from the database, and rollup maintenance."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from survey.commands.options import period_option, user_errors
from survey.core.audit import record_event
from survey.core.db import db, write_transaction
from survey.core.errors import NotFound
from survey.core.periods import Period
from survey.core.results import queries, raw
from survey.core.rollups import SCOPES
from survey.ikm.engine import to_json_dict
from survey.ikm.standards import WEIGHT_MODES
from survey.ikm.table import render_table

ikm_cli = AppGroup("ikm", help="The index (IKM) from the database.")


@ikm_cli.command("report")
@click.option("--agency", "agency_code", required=True)
@click.option("--desk", "desk_code", help="Only this desk (computed within its agency).")
@period_option
@click.option("--scope", type=click.Choice(SCOPES), default="clean",
              show_default=True, help="clean: flagged responses excluded; all: included.")
@click.option("--weights", type=click.Choice(WEIGHT_MODES), default="exact",
              show_default=True)
@click.option("--confidence", type=float, default=0.95, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@user_errors
def report(agency_code: str, desk_code: str | None, period: Period, scope: str, weights: str,
           confidence: float, fmt: str) -> None:
    """Print the index of an agency (and of each of its desks) for a period. The JSON is
    the same as `ikm compute` gives for an export of the same responses."""
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
    """Recompute the per-desk rollups from the raw responses (a cache; safe to run). It is
    audited: the figures every app process keeps for closed periods are recomputed."""
    with write_transaction(db.session):
        rows = raw.rebuild_rollups(db.session)
        record_event(db.session, "rollups_rebuilt", None, details={"rows": rows})
    click.echo(f"Rebuilt rollups: {rows} rows written.")


COMMANDS = (ikm_cli,)
