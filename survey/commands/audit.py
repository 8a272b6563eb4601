"""`flask audit verify`: recompute the whole hash chain from the stored rows."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from survey.commands.options import optional_period_option
from survey.core import ledger
from survey.core.db import db
from survey.core.periods import Period

audit_cli = AppGroup("audit", help="Tamper evidence.")


@audit_cli.command("verify")
@optional_period_option
def audit_verify(period: Period | None) -> None:
    """Recompute the whole hash chain from the stored rows; exit 1 at the first break.
    With --period, only the links of the responses dated in it (see ledger.verify_period:
    quick, between full runs)."""
    if period is not None:
        report = ledger.verify_period(db.session, period.start, period.end)
        what = f"links of the responses of {period.key}"
    else:
        report = ledger.verify(db.session)
        what = "links"
    if report.broken is not None:
        click.echo(report.broken.message(), err=True)
        click.echo(f"verified {report.length} {what} before the break", err=True)
        sys.exit(1)
    click.echo(f"chain intact: {report.length} {what}, "
               + ("head" if period is None else "last") + f" {report.head}")


COMMANDS = (audit_cli,)
