"""`flask audit verify`: recompute the whole hash chain from the stored rows."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from survey.core import ledger
from survey.core.db import db

audit_cli = AppGroup("audit", help="Tamper evidence.")


@audit_cli.command("verify")
def audit_verify() -> None:
    """Recompute the whole hash chain from the stored rows; exit 1 at the first break."""
    report = ledger.verify(db.session)
    if report.broken is not None:
        click.echo(report.broken.message(), err=True)
        click.echo(f"verified {report.length} links before the break", err=True)
        sys.exit(1)
    click.echo(f"chain intact: {report.length} links, head {report.head}")


COMMANDS = (audit_cli,)
