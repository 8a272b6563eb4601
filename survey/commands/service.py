"""`flask service ...`: the services (jenis layanan) agencies offer."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from survey.commands.options import user_errors
from survey.core.db import db, write_transaction
from survey.core.org import services

service_cli = AppGroup("service", help="Manage the services (jenis layanan) agencies offer.")


@service_cli.command("create")
@click.option("--agency", "agency_code", required=True)
@click.option("--code", required=True)
@click.option("--name", required=True, help="Name in Bahasa Indonesia.")
@click.option("--name-en", help="Name in English.")
@click.option("--desk", "desk_codes", multiple=True, help="A desk offering it (repeatable).")
@user_errors
def service_create(agency_code: str, code: str, name: str, name_en: str | None,
                   desk_codes: tuple[str, ...]) -> None:
    with write_transaction(db.session):
        service = services.create_service(db.session, agency_code, code, name, name_en,
                                          desk_codes, actor=None)
    click.echo(f"Created service {agency_code}/{service.code}.")


COMMANDS = (service_cli,)
