"""`flask agency ...`: agencies (OPD, service units, groups such as an MPP)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from survey.commands.options import user_errors
from survey.core.db import db, write_transaction
from survey.core.org import agencies

agency_cli = AppGroup("agency", help="Manage agencies (OPD, service units, groups such as an MPP).")


@agency_cli.command("create")
@click.option("--code", required=True, help="Short stable code, e.g. DUKCAPIL.")
@click.option("--name", required=True)
@click.option("--parent", "parent_code", help="Code of the parent agency (e.g. the MPP).")
@click.option("--timezone", default="Asia/Jakarta", show_default=True)
@click.option("--head-name", help="Head of unit, printed on the report's signature block.")
@click.option("--head-nip", help="The head of unit's NIP (18 digits).")
@user_errors
def agency_create(code: str, name: str, parent_code: str | None, timezone: str,
                  head_name: str | None, head_nip: str | None) -> None:
    with write_transaction(db.session):
        agency = agencies.create_agency(db.session, code, name, parent_code, timezone,
                                        head_name, head_nip, actor=None)
    click.echo(f"Created agency {agency.code}.")


COMMANDS = (agency_cli,)
