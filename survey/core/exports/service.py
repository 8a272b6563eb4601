"""Export operations: what the auditor pages and `flask export` call. The builders (CSV,
XLSX, report, bundle) stay pure; this module reads the database (through exports.rows and
results.queries), signs, and records each export as an audit event."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from survey.core import ledger, signing
from survey.core.audit import Actor, record_event
from survey.core.db import utcnow
from survey.core.exports import csvfile
from survey.core.exports.bundle import build as build_signed_zip
from survey.core.exports.report import render_pdf
from survey.core.exports.rows import ExportScope, export_rows
from survey.core.exports.xlsx import write_workbook
from survey.core.models import Agency
from survey.core.periods import Period
from survey.core.results import queries
from survey.core.results.dashboard import Dashboard, build
from survey.core.review import published_comments
from survey.ikm.bundle import POPULATIONS, RESPONSES
from survey.ikm.compute import compute
from survey.ikm.engine import to_json_dict

FORMATS = ("csv", "xlsx", "pdf", "bundle")


@dataclass
class ExportJob:
    """One export: an agency (with the agencies below it), a period, and whether responses
    currently flagged as possible ballot stuffing are included (`scope` all) or not
    (`scope` clean, the default: the same responses as the published index)."""

    agency: Agency
    period: Period
    include_flagged: bool = False
    bom: bool = False

    @property
    def scope_name(self) -> str:
        return "all" if self.include_flagged else "clean"

    def filename(self, fmt: str) -> str:
        suffix = "-semua" if self.include_flagged else ""
        ext = "zip" if fmt == "bundle" else fmt
        return f"skm-{self.agency.code}-{self.period.key}{suffix}.{ext}"


def record_export(session: Session, job: ExportJob, fmt: str, *, actor: Actor) -> None:
    """The audit event of an export, written before the file is produced (a download that
    fails half-way has still been asked for)."""
    record_event(session, f"export_{fmt}", actor, target=f"{job.agency.code}/{job.period.key}",
                 details={"responses": job.scope_name, "bom": job.bom,
                          # the receipt check reads which links a signed export covers
                          "chain_seq": ledger.head(session)[0]})


def _scope(session: Session, job: ExportJob) -> tuple[queries.AgencyScope, ExportScope]:
    covered = queries.agency_scope(session, job.agency)
    return covered, ExportScope(
        [d.id for d in covered.desks], job.period.start, job.period.end,
        len(covered.questionnaire.elements), include_flagged=job.include_flagged)


def csv_chunks(session: Session, job: ExportJob) -> Iterator[str]:
    """The canonical CSV, streamed: constant memory for any number of responses."""
    covered, scope = _scope(session, job)
    header = csvfile.columns([e.code for e in covered.questionnaire.elements])
    yield from csvfile.stream(header, export_rows(session, scope), bom=job.bom)


def populations_csv(session: Session, job: ExportJob) -> tuple[bytes, int]:
    """agency,desk,population for the desks whose service volume is known (the
    `--populations` file of `ikm compute`)."""
    covered = queries.agency_scope(session, job.agency)
    pops = queries.populations(session, [d.id for d in covered.desks], job.period.start,
                               job.period.end)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["agency", "desk", "population"])
    rows = 0
    for desk in covered.desks:
        if pops.get(desk.id) is not None:
            writer.writerow([desk.agency_code, desk.code, pops[desk.id]])
            rows += 1
    return buffer.getvalue().encode(), rows


def recompute(responses: bytes, populations: bytes | None, standard: str) -> dict:
    """What `ikm compute` prints for these files: the engine on exactly the exported
    bytes, so that an auditor's recomputation must agree with the manifest."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "responses.csv"
        path.write_bytes(responses)
        pop_path = None
        if populations is not None:
            pop_path = Path(tmp) / "populations.csv"
            pop_path.write_bytes(populations)
        results = compute(str(path), str(pop_path) if pop_path else None, standard)
    return to_json_dict(results.values())


def build_bundle(session: Session, job: ExportJob, instance_path: str,
                 extra_files: dict[str, bytes] | None = None) -> bytes:
    """The signed zip: responses.csv, populations.csv, any further exports, and the
    manifest with the chain head and the engine's results."""
    covered = queries.agency_scope(session, job.agency)
    responses = "".join(csv_chunks(session, job)).encode()
    populations, population_rows = populations_csv(session, job)
    response_rows = responses.count(b"\n") - 1
    standard = covered.questionnaire.standard
    seq, head = ledger.head(session)
    report = queries.agency_report(session, job.agency.code, job.period, job.scope_name)
    manifest = {
        "created_at": utcnow().isoformat(),
        "filters": {"agency": job.agency.code, "agency_name": job.agency.name,
                    "period": job.period.key, "start": job.period.start.isoformat(),
                    "end": job.period.end.isoformat(), "responses": job.scope_name,
                    "desks": [d.key for d in covered.desks]},
        "row_counts": {RESPONSES: response_rows, POPULATIONS: population_rows},
        "chain_head": {"seq": seq, "hash": head},
        "settings": {"standard": standard, "weights": "exact", "confidence": 0.95},
        "results": recompute(responses, populations if population_rows else None, standard),
        "database_results": to_json_dict(report.result),
    }
    files = {RESPONSES: responses, **(extra_files or {})}
    if population_rows:
        files[POPULATIONS] = populations
    return build_signed_zip(files, manifest, signing.load_private(instance_path),
                        row_counts=manifest["row_counts"])


def board_for(session: Session, job: ExportJob) -> Dashboard:
    """The dashboard's data for the agency and period (the report and workbook show the
    same numbers as the dashboard)."""
    return build(session, job.agency, job.period)


def xlsx_bytes(session: Session, job: ExportJob) -> bytes:
    covered, scope = _scope(session, job)
    board = board_for(session, job)
    pops = queries.populations(session, [d.id for d in covered.desks], job.period.start,
                               job.period.end)
    header = csvfile.columns([e.code for e in covered.questionnaire.elements])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.xlsx"
        write_workbook(str(path), header, export_rows(session, scope), board,
                       {d.key: pops.get(d.id) for d in covered.desks},
                       comments=_comments(session, covered, job))
        return path.read_bytes()


def pdf_bytes(session: Session, job: ExportJob) -> bytes:
    covered = queries.agency_scope(session, job.agency)
    return render_pdf(board_for(session, job), _comments(session, covered, job), utcnow())


def _comments(session: Session, covered: queries.AgencyScope, job: ExportJob):
    return published_comments(session, [d.id for d in covered.desks], job.period.start,
                              job.period.end, limit=500)


def render(session: Session, job: ExportJob, fmt: str, instance_path: str) -> bytes:
    """The export as bytes (the CSV is better streamed with csv_chunks)."""
    if fmt == "csv":
        return "".join(csv_chunks(session, job)).encode()
    if fmt == "xlsx":
        return xlsx_bytes(session, job)
    if fmt == "pdf":
        return pdf_bytes(session, job)
    if fmt == "bundle":
        stem = job.filename("csv").rsplit(".", 1)[0]
        return build_bundle(session, job, instance_path, extra_files={
            f"{stem}.xlsx": xlsx_bytes(session, job), f"{stem}.pdf": pdf_bytes(session, job)})
    raise ValueError(f"unknown export format {fmt!r}")
