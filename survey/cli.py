"""Operator commands (`flask ...`). Each validates its input, prints what it did, and exits
non-zero with a one-line reason when the input is wrong; nothing is stored then."""

from __future__ import annotations

import functools
import json
import sys
from datetime import date

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from flask_migrate import upgrade
from sqlalchemy import func, select

from .admin import services as org
from .database import write_transaction
from .errors import NotFound, ValidationError
from .extensions import db
from .models import ROLES, Agency, Desk, Response
from .urls import public_url


def user_errors(command):
    """Turn domain errors into a clean CLI failure (exit status 1, message on stderr) and
    make sure a failed command leaves nothing half-written."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (ValidationError, NotFound) as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from None

    return wrapper


@click.command("init")
@with_appcontext
def init_command() -> None:
    """Apply the database migrations and seed the standard questionnaires."""
    from .results.rollups import missing_rollups, rebuild
    from .seed import seed_standards
    from .signing import ensure_keypair

    upgrade()
    created = seed_standards(db.session)
    db.session.commit()
    click.echo("Database is up to date.")
    if ensure_keypair(current_app.instance_path):
        click.echo(f"Created the export signing key pair in {current_app.instance_path}.")
    if missing_rollups(db.session):
        with write_transaction(db.session):
            rebuild(db.session)
        click.echo("Rebuilt the result rollups from the stored responses.")
    for code in created:
        click.echo(f"Seeded questionnaire {code}.")


agency_cli = AppGroup("agency", help="Manage agencies (OPD, service units, groups such as an MPP).")


@agency_cli.command("create")
@click.option("--code", required=True, help="Short stable code, e.g. DUKCAPIL.")
@click.option("--name", required=True)
@click.option("--parent", "parent_code", help="Code of the parent agency (e.g. the MPP).")
@click.option("--timezone", default="Asia/Jakarta", show_default=True)
@click.option("--head-name", help="Head of unit, printed on the report's signature block.")
@click.option("--head-nip", help="The head of unit's NIP (18 digits).")
@user_errors
def agency_create(code, name, parent_code, timezone, head_name, head_nip) -> None:
    agency = org.create_agency(db.session, code, name, parent_code, timezone, head_name,
                               head_nip)
    db.session.commit()
    click.echo(f"Created agency {agency.code}.")


desk_cli = AppGroup("desk", help="Manage service desks (loket) and their survey links.")


@desk_cli.command("create")
@click.option("--agency", "agency_code", required=True)
@click.option("--code", required=True, help="Desk code within the agency, e.g. L1.")
@click.option("--name", required=True)
@click.option("--location")
@click.option("--questionnaire", default="permenpan-14-2017", show_default=True)
@user_errors
def desk_create(agency_code, code, name, location, questionnaire) -> None:
    desk = org.create_desk(db.session, agency_code, code, name, location, questionnaire)
    db.session.commit()
    click.echo(f"Created desk {agency_code}/{desk.code}: {public_url('/s/' + desk.slug)}")


@desk_cli.command("list")
@click.option("--agency", "agency_code", help="Only this agency's desks.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@user_errors
def desk_list(agency_code, fmt) -> None:
    query = select(Desk, Agency.code).join(Agency).order_by(Agency.code, Desk.code)
    if agency_code:
        query = query.where(Desk.agency_id == org.get_agency(db.session, agency_code).id)
    rows = [
        {"agency": code, "code": desk.code, "name": desk.name,
         "url": public_url("/s/" + desk.slug), "active": desk.active}
        for desk, code in db.session.execute(query)
    ]
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        state = "" if row["active"] else "  (inactive)"
        click.echo(f"{row['agency']:<14} {row['code']:<8} {row['name']:<36} {row['url']}{state}")


@desk_cli.command("qr")
@click.option("--agency", "agency_code", required=True)
@click.option("--desk", "desk_code", required=True)
@click.option("--format", "fmt", type=click.Choice(["png", "svg", "pdf"]), required=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True))
@user_errors
def desk_qr(agency_code, desk_code, fmt, out) -> None:
    """Write a desk's QR code (PNG or SVG) or its printable A4 poster (PDF)."""
    from .desks import services as desk_services

    desk = org.get_desk(db.session, agency_code, desk_code)
    if fmt == "pdf":
        body = desk_services.posters_pdf([desk])
    else:
        body, _mime = desk_services.qr_image(desk, fmt)
    with open(out, "wb") as fh:
        fh.write(body)
    click.echo(f"Wrote {out} for {desk_services.survey_url(desk)}")


@desk_cli.command("posters")
@click.option("--agency", "agency_code", required=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True))
@user_errors
def desk_posters(agency_code, out) -> None:
    """Write one PDF with the A4 posters of all active desks of an agency."""
    from .desks import services as desk_services

    agency = org.get_agency(db.session, agency_code)
    desks = [d for d in desk_services.desks_of(db.session, {agency.id}) if d.active]
    if not desks:
        raise ValidationError(f"agency {agency_code} has no active desks")
    with open(out, "wb") as fh:
        fh.write(desk_services.posters_pdf(desks))
    click.echo(f"Wrote {out}: {len(desks)} posters.")


@desk_cli.command("api-key")
@click.option("--agency", "agency_code", required=True)
@click.option("--desk", "desk_code", required=True)
@user_errors
def desk_api_key(agency_code, desk_code) -> None:
    """Create (or replace) the desk's API key for queue systems; printed once."""
    from .audit_log import record_event
    from .desks import services as desk_services

    desk = org.get_desk(db.session, agency_code, desk_code)
    key = desk_services.new_api_key(desk)
    record_event(db.session, "desk_api_key", target=f"{agency_code}/{desk_code}")
    db.session.commit()
    click.echo(key)


ticket_cli = AppGroup("ticket", help="One-time visit tickets (verified responses).")


@ticket_cli.command("issue")
@click.option("--agency", "agency_code", required=True)
@click.option("--desk", "desk_code", required=True)
@click.option("--count", default=1, show_default=True, type=int)
@click.option("--hours", default=None, type=int, help="Validity (default TICKET_TTL_HOURS).")
@user_errors
def ticket_issue(agency_code, desk_code, count, hours) -> None:
    """Print the URLs of new one-time tickets, one per line."""
    from . import tickets
    from .desks import services as desk_services

    desk = org.get_desk(db.session, agency_code, desk_code)
    ttl = hours if hours is not None else current_app.config["TICKET_TTL_HOURS"]
    with write_transaction(db.session):
        tokens = tickets.issue(db.session, desk, count, ttl)
    for token in tokens:
        click.echo(desk_services.ticket_url(token))


service_cli = AppGroup("service", help="Manage the services (jenis layanan) agencies offer.")


@service_cli.command("create")
@click.option("--agency", "agency_code", required=True)
@click.option("--code", required=True)
@click.option("--name", required=True, help="Name in Bahasa Indonesia.")
@click.option("--name-en", help="Name in English.")
@click.option("--desk", "desk_codes", multiple=True, help="A desk offering it (repeatable).")
@user_errors
def service_create(agency_code, code, name, name_en, desk_codes) -> None:
    service = org.create_service(db.session, agency_code, code, name, name_en, desk_codes)
    db.session.commit()
    click.echo(f"Created service {agency_code}/{service.code}.")


user_cli = AppGroup("user", help="Manage staff accounts.")


@user_cli.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--agency", "agency_codes", multiple=True,
              help="Agency the user may see (repeatable; managers and desk staff need one).")
@click.option("--name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@user_errors
def user_create(email, role, agency_codes, name, password_stdin) -> None:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = org.create_user(db.session, email, password, role, agency_codes, name)
    db.session.commit()
    click.echo(f"Created {user.role} {user.email}.")


@user_cli.command("token")
@click.option("--email", required=True)
@click.option("--name", default="", help="What the token is for, e.g. 'BI dashboard'.")
@user_errors
def user_token(email, name) -> None:
    """Create a bearer token for the read API; printed once."""
    from .api import tokens
    from .audit_log import record_event
    from .models import User

    user = db.session.scalar(select(User).where(func.lower(User.email) == email.lower()))
    if user is None:
        raise NotFound(f"no user {email}")
    if user.role == "desk_staff":
        raise ValidationError("desk staff accounts cannot read the API")
    token = tokens.create(db.session, user, name)
    record_event(db.session, "api_token_created", target=user.email, details={"name": name})
    db.session.commit()
    click.echo(token)


volume_cli = AppGroup("volume", help="Service volumes: citizens served, the survey population.")


@volume_cli.command("set")
@click.option("--agency", "agency_code", required=True)
@click.option("--desk", "desk_code", required=True)
@click.option("--month", help="Month, e.g. 2024-05.")
@click.option("--day", help="Day, e.g. 2024-05-31 (when the queue system reports daily).")
@click.option("--count", required=True, type=int, help="Citizens served (>= 0).")
@user_errors
def volume_set(agency_code, desk_code, month, day, count) -> None:
    if bool(month) == bool(day):
        raise ValidationError("give exactly one of --month or --day")
    desk = org.get_desk(db.session, agency_code, desk_code)
    granularity, start = ("month", org.parse_month(month)) if month else ("day",
                                                                       org.parse_day(day))
    org.set_volume(db.session, desk, granularity, start, count)
    db.session.commit()
    click.echo(f"{agency_code}/{desk_code} {granularity} {start.isoformat()}: {count} served.")


@click.command("demo")
@with_appcontext
@click.option("--end-month", help="Last month of the six demo months (default: last month).")
@click.option("--seed", default=20171, show_default=True, type=int)
@user_errors
def demo_command(end_month, seed) -> None:
    """Seed a Mal Pelayanan Publik with four agencies and six months of responses."""
    from .seed import DEMO_PASSWORD, seed_demo

    if end_month:
        end = org.parse_month(end_month)
    else:
        today = date.today()
        end = date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
    counts = seed_demo(db.session, end, seed)
    db.session.commit()
    if not counts:
        total = db.session.scalar(select(func.count()).select_from(Response))
        click.echo(f"Demo data already present ({total} responses); nothing changed.")
        return
    click.echo(
        f"Demo seeded: {counts['agencies']} agencies, {counts['desks']} desks, "
        f"{counts['services']} services, {counts['responses']} responses."
    )
    click.echo(f"Demo accounts (password {DEMO_PASSWORD!r}): admin@demo.test, "
               "manager.dukcapil@demo.test, manager.mpp@demo.test, auditor@demo.test, "
               "petugas.samsat@demo.test")
    click.echo(f"Open {current_app.config['PUBLIC_BASE_URL']}/")


export_cli = AppGroup("export", help="Exports for auditors (the same files as /audit).")


def _export_command(fmt: str):
    @export_cli.command(fmt)
    @click.option("--agency", "agency_code", required=True)
    @click.option("--period", "period_key", required=True)
    @click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True))
    @click.option("--include-flagged", is_flag=True,
                  help="Also export responses currently flagged for review.")
    @click.option("--bom", is_flag=True, help="CSV: start with a UTF-8 BOM for Excel.")
    @user_errors
    def command(agency_code, period_key, out, include_flagged, bom) -> None:
        from .audit_log import record_event
        from .exports import service
        from .periods import PeriodError, parse_period

        agency = org.get_agency(db.session, agency_code)
        try:
            period = parse_period(period_key)
        except PeriodError as exc:
            raise ValidationError(str(exc)) from None
        job = service.ExportJob(agency, period, include_flagged=include_flagged, bom=bom)
        with write_transaction(db.session):
            record_event(db.session, f"export_{fmt}", target=f"{agency_code}/{period.key}",
                         details={"responses": job.scope_name, "bom": bom})
        job.agency = org.get_agency(db.session, agency_code)
        with open(out, "wb") as fh:
            if fmt == "csv":
                for chunk in service.csv_chunks(db.session, job):
                    fh.write(chunk.encode())
            else:
                fh.write(service.render(db.session, job, fmt, current_app.instance_path))
        click.echo(f"Wrote {out}.")

    command.__doc__ = f"Write the {fmt.upper()} export of an agency and period."
    return command


for _fmt in ("csv", "xlsx", "pdf", "bundle"):
    _export_command(_fmt)


audit_cli = AppGroup("audit", help="Tamper evidence.")


@audit_cli.command("verify")
def audit_verify() -> None:
    """Recompute the whole hash chain from the stored rows; exit 1 at the first break."""
    from . import ledger

    report = ledger.verify(db.session)
    if report.broken is not None:
        click.echo(report.broken.message(), err=True)
        click.echo(f"verified {report.length} links before the break", err=True)
        sys.exit(1)
    click.echo(f"chain intact: {report.length} links, head {report.head}")


def register(app: Flask) -> None:
    from .results.cli import ikm_cli

    for command in (init_command, agency_cli, desk_cli, service_cli, user_cli, volume_cli,
                    demo_command, ikm_cli, ticket_cli, export_cli, audit_cli):
        app.cli.add_command(command)
