"""`flask volume import FILE.csv`: the admin page's volume import for operators, with the
same parser and the same all-or-nothing rule. Added to the existing `flask volume` group."""

from __future__ import annotations

import os

import click

from ..cli import user_errors, volume_cli
from ..database import write_transaction
from ..extensions import db
from . import volumes


@volume_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@user_errors
def volume_import(path: str) -> None:
    """Import monthly volumes from a CSV file with the header agency,desk,month,count.
    Nothing is stored when any line is wrong; the message names the line."""
    with open(path, "rb") as fh:
        data = fh.read()
    with write_transaction(db.session):
        count = volumes.import_csv(db.session, data, allowed=None,
                                   filename=os.path.basename(path))
    click.echo(f"Imported {count} monthly volumes from {path}.")
