"""What every command shares: domain errors become a clean failure, and the `--period`
option. It imports only the core's leaf modules (db, errors, periods), so any command
module can use it without import cycles."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from survey.core.db import db
from survey.core.errors import NotFound, ValidationError
from survey.core.periods import Period, PeriodError, parse_period

PERIOD_FORMS = "2024, 2024-S1, 2024-Q3, 2024-05, 2024-01-15..2024-03-14 or 2024-01..2024-04"


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn domain errors into a clean CLI failure (exit status 1, one line on stderr) and
    make sure a failed command leaves nothing half-written."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (ValidationError, NotFound) as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from None

    return wrapper


def _parse_period(_ctx: click.Context, _param: click.Parameter, value: str | None
                  ) -> Period | None:
    if value is None:
        return None
    try:
        return parse_period(value)
    except PeriodError as exc:
        raise click.BadParameter(str(exc)) from None


def period_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """A required `--period` (passed as `period`, a parsed Period)."""
    return click.option("--period", "period", required=True, callback=_parse_period,
                        help=PERIOD_FORMS)(command)


def optional_period_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """An optional `--period` (passed as `period`, a parsed Period or None)."""
    return click.option("--period", "period", default=None, callback=_parse_period,
                        help=PERIOD_FORMS)(command)
