"""`flask export csv|xlsx|pdf|bundle`: the auditor exports, the same files as /audit; and
`flask export mpp-report`, the MPP's coordination meeting report (the dashboard's button)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from survey.commands.options import period_option, user_errors
from survey.core.db import db, utcnow, write_transaction
from survey.core.exports import mpp_report, service
from survey.core.org.agencies import get_agency
from survey.core.periods import Period

export_cli = AppGroup("export", help="Exports for auditors (the same files as /audit).")


def _export_command(fmt: str) -> click.Command:
    @export_cli.command(fmt)
    @click.option("--agency", "agency_code", required=True)
    @period_option
    @click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True))
    @click.option("--include-flagged", is_flag=True,
                  help="Also export responses currently flagged for review.")
    @click.option("--bom", is_flag=True, help="CSV: start with a UTF-8 BOM for Excel.")
    @user_errors
    def command(agency_code: str, period: Period, out: str, include_flagged: bool,
                bom: bool) -> None:
        job = service.ExportJob(get_agency(db.session, agency_code), period,
                                include_flagged=include_flagged, bom=bom)
        with write_transaction(db.session):
            service.record_export(db.session, job, fmt, actor=None)
        with open(out, "wb") as fh:
            if fmt == "csv":
                for chunk in service.csv_chunks(db.session, job):
                    fh.write(chunk.encode())
            else:
                fh.write(service.render(db.session, job, fmt, current_app.instance_path))
        click.echo(f"Wrote {out}.")

    command.__doc__ = f"Write the {fmt.upper()} export of an agency and period."
    return command


for _fmt in service.FORMATS:
    _export_command(_fmt)


@export_cli.command("mpp-report")
@click.option("--agency", "agency_code", required=True,
              help="The Mal Pelayanan Publik (an agency with agencies below it).")
@period_option
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True))
@click.option("--lang", type=click.Choice(mpp_report.LANGS), default="id",
              show_default=True, help="The report's language.")
@user_errors
def mpp_report_command(agency_code: str, period: Period, out: str, lang: str) -> None:
    """Write the coordination meeting report (PDF) of an MPP and its agencies."""
    now = utcnow()
    report = mpp_report.build(db.session, get_agency(db.session, agency_code), period, now)
    pdf = mpp_report.render_pdf(report, lang, now)  # before opening: no file on failure
    with open(out, "wb") as fh:
        fh.write(pdf)
    click.echo(f"Wrote {out}.")


COMMANDS = (export_cli,)
