"""Exports for auditors and tamper evidence: the canonical CSV, recomputation with
`ikm compute`, signed bundles verified offline, and the hash chain check."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from support.checks import assert_same_results
from support.factories import SetupMark, desk, fill, make_user
from support.web import login

from survey.core import ledger, signing
from survey.core.db import db
from survey.core.models import Answer, AuditEvent, ChainEntry, Response
from survey.core.responses import NewResponse, record_responses
from survey.ikm.bundle import load_public_key
from survey.ikm.cli import main as ikm_main

MAY = datetime(2024, 5, 14, 3, tzinfo=UTC)


def _csv(text_: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text_.lstrip("\ufeff"))))


@pytest.fixture
def auditor(client, org):
    make_user(org, "aud@bpk.go.id", "auditor")
    login(client, "aud@bpk.go.id")
    return client


def test_csv_export_canonical_columns_and_flagged_scope(org, auditor):
    fill(org, per_desk=20, flagged=3)
    clean = auditor.get("/audit/ekspor/KEC-A.csv?period=2024-05")
    assert clean.status_code == 200 and clean.mimetype == "text/csv"
    assert "attachment" in clean.headers["Content-Disposition"]
    rows = _csv(clean.get_data(as_text=True))
    assert list(rows[0]) == ["response_id", "submitted_at", "agency", "desk", "service",
                             "channel", "verified", "flagged", *[f"U{i}" for i in range(1, 10)],
                             "sex", "age", "education", "occupation", "comment"]
    assert len(rows) == 34 and {r["flagged"] for r in rows} == {"false"}
    every = _csv(auditor.get("/audit/ekspor/KEC-A.csv?period=2024-05&flagged=1")
                 .get_data(as_text=True))
    assert len(every) == 40 and sum(r["flagged"] == "true" for r in every) == 6
    assert rows[0]["agency"] == "KEC-A" and rows[0]["service"] == "KTP"
    assert rows[0]["submitted_at"] == "2024-05-14T03:00:00Z"
    with_bom = auditor.get("/audit/ekspor/KEC-A.csv?period=2024-05&bom=1").data
    assert with_bom.startswith("\ufeff".encode()) and not clean.data.startswith(b"\xef\xbb\xbf")
    events = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.action.like("export_%"))).all()
    assert events == ["export_csv"] * 3


@pytest.mark.parametrize("comment", [
    '=HYPERLINK("http://evil.example","klik")', "+62 jangan", "-1+1", "@SUM(A1)", "=1+1"])
def test_csv_cells_that_spreadsheets_would_execute_are_neutralised(org, auditor, comment):
    record_responses(db.session, [NewResponse(
        desk_id=desk().id, answers={f"U{i}": 3 for i in range(1, 10)}, submitted_at=MAY,
        channel="qr", comment=comment)])
    db.session.commit()
    body = auditor.get("/audit/ekspor/KEC-A.csv?period=2024-05").get_data(as_text=True)
    cell = _csv(body)[0]["comment"]
    stored = db.session.scalar(select(Response.comment))
    assert cell == "'" + stored
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_neutralise_covers_tab_and_carriage_return():
    from survey.core.exports.csvfile import neutralise

    assert neutralise("\tcmd") == "'\tcmd" and neutralise("\rcmd") == "'\rcmd"
    assert neutralise("Antre 2 jam = lama") == "Antre 2 jam = lama"
    assert neutralise(None) == ""


def test_export_then_ikm_compute_equals_report_and_dashboard(org, auditor, runner, tmp_path,
                                                             capsys):
    fill(org, per_desk=30)
    (tmp_path / "r.csv").write_bytes(auditor.get("/audit/ekspor/KEC-A.csv?period=2024-05").data)
    (tmp_path / "p.csv").write_text("agency,desk,population\nKEC-A,L1,450\n")
    capsys.readouterr()
    assert ikm_main(["compute", str(tmp_path / "r.csv"), "--populations",
                     str(tmp_path / "p.csv"), "--format", "json"]) == 0
    computed = json.loads(capsys.readouterr().out)
    reported = json.loads(runner.invoke(args=["ikm", "report", "--agency", "KEC-A",
                                              "--period", "2024-05", "--format", "json"]
                                        ).output)
    assert_same_results(computed, reported)
    board = auditor.get("/dashboard/KEC-A?period=2024-05").get_data(as_text=True)
    headline = re.search(r'<p class="value">([^<]+)</p>', board).group(1)
    from survey.ikm.standards import display_decimal

    assert headline == str(display_decimal(computed["results"][0]["ikm_converted"])
                           ).replace(".", ",")


def test_exports_are_scoped(org, client):
    org.create_agency(db.session, "KEC-B", "B")
    db.session.commit()
    make_user(org, "b@kec-b.go.id", "agency_manager", ["KEC-B"])
    login(client, "b@kec-b.go.id")
    assert client.get("/audit/ekspor/KEC-A.csv?period=2024-05").status_code == 404
    assert client.get("/audit/ekspor/KEC-B.csv?period=2024-05").status_code == 200
    assert client.get("/audit/ekspor/KEC-B.csv?period=later").status_code == 400
    assert client.get("/audit/ekspor/KEC-B.doc?period=2024-05").status_code == 404
    assert client.get("/audit/log").status_code == 403


def test_audit_log_page(org, auditor):
    auditor.get("/audit/ekspor/KEC-A.csv?period=2024-05")
    page = auditor.get("/audit/log").get_data(as_text=True)
    assert "export_csv" in page and "login" in page and "aud@bpk.go.id" in page
    only = auditor.get("/audit/log?action=login").get_data(as_text=True)
    assert "export_csv</td>" not in only


def test_public_key_download(app, client):
    assert client.get("/audit/public-key").status_code == 404
    signing.ensure_keypair(app.instance_path)
    pem = client.get("/audit/public-key").data
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    load_public_key(pem)


# --- signed bundles ------------------------------------------------------------------------


@pytest.fixture
def bundle_files(app, org, tmp_path):
    from survey.core.exports import service
    from survey.core.models import Agency
    from survey.core.periods import parse_period

    fill(org, per_desk=25)
    signing.ensure_keypair(app.instance_path)
    job = service.ExportJob(db.session.scalar(select(Agency)), parse_period("2024-05"))
    data = service.build_bundle(db.session, job, app.instance_path)
    (tmp_path / "b.zip").write_bytes(data)
    (tmp_path / "key.pem").write_bytes(
        (tmp_path / "instance" / signing.PUBLIC_NAME).read_bytes())
    return tmp_path / "b.zip", tmp_path / "key.pem"


def _rewrite(path, change) -> None:
    """Rewrite a zip, passing each member's bytes through change(name, data)."""
    with zipfile.ZipFile(path) as src:
        members = [(n, src.read(n)) for n in src.namelist()]
    with zipfile.ZipFile(path, "w") as dst:
        for name, data in members:
            result = change(name, data)
            if result is not None:
                dst.writestr(name, result)


def verify(capsys, bundle, key) -> tuple[int, str]:
    capsys.readouterr()
    code = ikm_main(["verify", str(bundle), "--public-key", str(key)])
    return code, capsys.readouterr().out


def test_bundle_verifies_offline(bundle_files, capsys, runner):
    bundle, key = bundle_files
    code, out = verify(capsys, bundle, key)
    assert code == 0, out
    assert "OK   signature over manifest.json" in out
    assert "OK   file responses.csv: SHA-256 matches" in out
    assert "OK   results recomputed from responses.csv" in out and "bundle verified" in out
    with zipfile.ZipFile(bundle) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["filters"]["agency"] == "KEC-A" and manifest["filters"]["period"] == "2024-05"
    assert manifest["row_counts"]["responses.csv"] == 44  # 50 minus 6 flagged (clean scope)
    assert manifest["chain_head"]["seq"] == ledger.head(db.session)[0]
    assert manifest["settings"] == {"standard": "permenpan-14-2017", "weights": "exact",
                                    "confidence": 0.95}


def test_changed_file_fails_verification(bundle_files, capsys):
    bundle, key = bundle_files

    def change(name, data):
        if name == "responses.csv":
            lines = data.decode().splitlines(keepends=True)
            cells = lines[1].split(",")
            cells[8] = "1" if cells[8] != "1" else "2"  # one score of the first response
            lines[1] = ",".join(cells)
            return "".join(lines).encode()
        return data

    _rewrite(bundle, change)
    code, out = verify(capsys, bundle, key)
    assert code == 1
    assert "FAIL file responses.csv" in out and "FAIL results recomputed" in out
    assert "OK   signature over manifest.json" in out


def test_changed_manifest_fails_the_signature(bundle_files, capsys):
    bundle, key = bundle_files

    def change(name, data):
        if name == "manifest.json":
            manifest = json.loads(data)
            manifest["results"]["results"][0]["ikm_converted"] += 1.0
            return json.dumps(manifest, indent=1, sort_keys=True).encode()
        return data

    _rewrite(bundle, change)
    code, out = verify(capsys, bundle, key)
    assert code == 1
    assert "FAIL signature over manifest.json" in out
    assert "FAIL results recomputed" in out


def test_bundle_signed_by_another_key_or_missing_files_fails(bundle_files, capsys, tmp_path):
    bundle, _key = bundle_files
    signing.ensure_keypair(tmp_path / "other")
    code, out = verify(capsys, bundle, tmp_path / "other" / signing.PUBLIC_NAME)
    assert code == 1 and "FAIL signature" in out
    _rewrite(bundle, lambda name, data: None if name == "populations.csv" else data)
    code, out = verify(capsys, bundle, bundle_files[1])
    assert code == 1 and "FAIL file populations.csv: listed in the manifest but missing" in out
    code, out = verify(capsys, tmp_path / "nope.zip", bundle_files[1])
    assert code == 1 and "FAIL bundle readable" in out


# --- the hash chain ------------------------------------------------------------------------


def _drop_append_only_triggers() -> None:
    """What an attacker with database access would do first."""
    if db.engine.dialect.name == "sqlite":
        for name in ("response", "answer", "chain_entry", "review_decision"):
            for event in ("update", "delete"):
                db.session.execute(text(f"DROP TRIGGER IF EXISTS {name}_no_{event}"))
        db.session.execute(text("DROP TRIGGER IF EXISTS response_redact_only"))
    else:
        for name in ("response", "answer", "chain_entry", "review_decision"):
            db.session.execute(text(f"ALTER TABLE {name} DISABLE TRIGGER USER"))
    db.session.commit()


@pytest.fixture
def chain_10k(org):
    """10,000 responses (and a few audit events) on the chain."""
    import numpy as np

    rng = np.random.default_rng(11)
    d = desk()
    scores = rng.integers(1, 5, size=(10_000, 9))
    for start in range(0, 10_000, 2_000):
        record_responses(db.session, [NewResponse(
            desk_id=d.id, answers={f"U{j + 1}": int(s) for j, s in enumerate(row)},
            submitted_at=MAY, channel="qr", comment=f"saran {start + i}")
            for i, row in enumerate(scores[start:start + 2_000])])
    db.session.commit()
    assert ledger.verify(db.session).broken is None
    _drop_append_only_triggers()
    return db.session.execute(select(ChainEntry.seq, ChainEntry.kind, ChainEntry.ref_id)
                              .order_by(ChainEntry.seq)).all()


def _position(entries, response_id: int) -> int:
    return next(seq for seq, kind, ref in entries if kind == "response" and ref == response_id)


def _intact() -> None:
    assert ledger.verify(db.session).broken is None


def _rows(table: str, where: str, params: dict) -> list[dict]:
    return [dict(r._mapping) for r in db.session.execute(
        text(f"SELECT * FROM {table} WHERE {where}"), params)]


def _insert(table: str, rows: list[dict]) -> None:
    for row in rows:
        names = ", ".join(row)
        db.session.execute(text(f"INSERT INTO {table} ({names}) VALUES "
                                f"({', '.join(':' + n for n in row)})"), row)


def _found(entries_position: int, problem: str) -> None:
    report = ledger.verify(db.session)
    assert report.broken is not None
    assert (report.broken.position, report.broken.problem) == (entries_position, problem)


def test_tampering_with_a_10000_response_chain_is_found_at_the_right_position(chain_10k,
                                                                              runner):
    """Each tampering is made, detected at its position, then undone (the chain verifies
    again), so that one 10,000-response chain serves every case."""
    entries = chain_10k
    # 1. one score changed
    victim = entries[6_789][2]
    element = db.session.scalar(select(Answer.element_id).where(
        Answer.response_id == victim).limit(1))
    old = db.session.scalar(select(Answer.score).where(Answer.response_id == victim,
                                                       Answer.element_id == element))
    update = "UPDATE answer SET score = :s WHERE response_id = :r AND element_id = :e"
    db.session.execute(text(update), {"s": 5 - old, "r": victim, "e": element})
    db.session.commit()
    _found(_position(entries, victim), "changed")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"chain broken at position {_position(entries, victim)}" in result.output
    db.session.execute(text(update), {"s": old, "r": victim, "e": element})
    db.session.commit()
    _intact()

    # 2. one response deleted (its link kept)
    victim = entries[4_321][2]
    response = _rows("response", "id = :r", {"r": victim})
    answers = _rows("answer", "response_id = :r", {"r": victim})
    db.session.execute(text("DELETE FROM answer WHERE response_id = :r"), {"r": victim})
    db.session.execute(text("DELETE FROM response WHERE id = :r"), {"r": victim})
    db.session.commit()
    _found(_position(entries, victim), "deleted")

    # 3. ... and its link deleted too: the sequence has a hole
    seq = _position(entries, victim)
    link = _rows("chain_entry", "seq = :s", {"s": seq})
    receipt = _rows("receipt", "seq = :s", {"s": seq})  # the link's receipt goes with it
    db.session.execute(text("DELETE FROM receipt WHERE seq = :s"), {"s": seq})
    db.session.execute(text("DELETE FROM chain_entry WHERE seq = :s"), {"s": seq})
    db.session.commit()
    _found(seq, "missing")
    _insert("response", response)
    _insert("answer", answers)
    _insert("chain_entry", link)
    _insert("receipt", receipt)
    db.session.commit()
    _intact()

    # 4. two responses swapped (their contents exchanged)
    first, second = entries[1_000][2], entries[8_000][2]
    c1, c2 = (db.session.scalar(select(Response.comment).where(Response.id == r))
              for r in (first, second))
    swap = "UPDATE response SET comment = :c WHERE id = :r"
    db.session.execute(text(swap), {"c": c2, "r": first})
    db.session.execute(text(swap), {"c": c1, "r": second})
    db.session.commit()
    _found(_position(entries, first), "changed")
    db.session.execute(text(swap), {"c": c1, "r": first})
    db.session.execute(text(swap), {"c": c2, "r": second})
    db.session.commit()
    _intact()

    # 5. a response inserted without a link
    template = _rows("response", "id = :r", {"r": entries[0][2]})[0]
    template.pop("id")
    template["idempotency_key"] = None
    _insert("response", [template])
    db.session.commit()
    report = ledger.verify(db.session)
    assert (report.broken.problem, report.broken.kind) == ("inserted", "response")
    assert report.broken.position == len(entries) + 1


def test_intact_chain_command(app, org, runner):
    fill(org, per_desk=5)
    result = runner.invoke(args=["audit", "verify"])
    links = SetupMark.links + 10  # the fixture's audited setup, then ten responses
    assert result.exit_code == 0 and f"chain intact: {links} links" in result.output
    assert db.session.scalar(select(func.count()).select_from(ChainEntry)) == links


def test_every_export_format_downloads(org, auditor, app):
    fill(org, per_desk=15)
    signing.ensure_keypair(app.instance_path)
    for fmt, mimetype, magic in (("xlsx", "spreadsheetml", b"PK"), ("pdf", "pdf", b"%PDF"),
                                 ("bundle", "zip", b"PK")):
        response = auditor.get(f"/audit/ekspor/KEC-A.{fmt}?period=2024-05")
        assert response.status_code == 200, fmt
        assert mimetype in response.mimetype and response.data.startswith(magic)
    names = zipfile.ZipFile(io.BytesIO(auditor.get(
        "/audit/ekspor/KEC-A.bundle?period=2024-05").data)).namelist()
    assert set(names) == {"responses.csv", "populations.csv", "manifest.json",
                          "manifest.sig", "skm-KEC-A-2024-05.xlsx", "skm-KEC-A-2024-05.pdf"}


def test_flask_export_bundle_then_ikm_verify(app, org, runner, tmp_path, capsys):
    fill(org, per_desk=15)
    signing.ensure_keypair(app.instance_path)  # what `flask init` does (see test_cli)
    out = tmp_path / "bundle.zip"
    result = runner.invoke(args=["export", "bundle", "--agency", "KEC-A", "--period",
                                 "2024-05", "--out", str(out)])
    assert result.exit_code == 0, result.output
    key = tmp_path / "instance" / signing.PUBLIC_NAME
    code, text_ = verify(capsys, out, key)
    assert code == 0 and "bundle verified" in text_
    for fmt in ("csv", "xlsx", "pdf"):
        result = runner.invoke(args=["export", fmt, "--agency", "KEC-A", "--period",
                                     "2024-05", "--out", str(tmp_path / f"x.{fmt}")])
        assert result.exit_code == 0, result.output
    bad = runner.invoke(args=["export", "csv", "--agency", "NOPE", "--period", "2024-05",
                              "--out", str(tmp_path / "y.csv")])
    assert bad.exit_code != 0 and "no agency" in bad.output


def test_every_answer_and_blank_lands_in_its_column_for_both_standards(org, auditor):
    """Fourteen elements (the 2004 standard) and nine, with blanks from paper forms: the
    exported U columns are exactly the stored answers, blanks empty."""
    import numpy as np

    org.create_agency(db.session, "KEC-C", "Kecamatan C")
    org.create_desk(db.session, "KEC-C", "L1", "Loket C1", questionnaire_code="kepmenpan-25-2004")
    db.session.commit()
    rng = np.random.default_rng(5)
    expected = {}
    for agency, width in (("KEC-A", 9), ("KEC-C", 14)):
        items = []
        for _ in range(60):
            scores = rng.integers(0, 5, width)  # 0 = left blank on paper
            scores[0] = scores[0] or 2  # at least one answer per form
            items.append(NewResponse(
                desk_id=desk("L1", agency).id, submitted_at=MAY, channel="paper",
                answers={f"U{j + 1}": int(s) for j, s in enumerate(scores) if s}))
        record_responses(db.session, items)
        db.session.commit()
        expected[agency] = [[str(int(s)) if s else "" for s in
                             (item.answers.get(f"U{j}", 0) for j in range(1, width + 1))]
                            for item in items]
    for agency, width in (("KEC-A", 9), ("KEC-C", 14)):
        rows = _csv(auditor.get(f"/audit/ekspor/{agency}.csv?period=2024-05")
                    .get_data(as_text=True))
        assert [k for k in rows[0] if k.startswith("U")] == [f"U{j}" for j in
                                                             range(1, width + 1)]
        assert [[r[f"U{j}"] for j in range(1, width + 1)] for r in rows] == expected[agency]
