"""The `flask` commands for operators: one module per command group, registered here.

Each command validates its input, runs every write in one `write_transaction`, prints
what it did, and exits non-zero with a one-line reason when the input is wrong (nothing is
stored then). Organisation changes are audited by the core exactly as on the web, with the
actor "cli".
"""

from __future__ import annotations

from flask import Flask

from survey.commands import (
    agency,
    audit,
    desk,
    export,
    ikm,
    partitions,
    responses,
    service,
    setup,
    ticket,
    user,
    volume,
)

MODULES = (setup, agency, desk, service, user, volume, ticket, responses, ikm, export, audit,
           partitions)


def register(app: Flask) -> None:
    for module in MODULES:
        for command in module.COMMANDS:
            app.cli.add_command(command)
