"""The optional PostgreSQL layout with responses and answers partitioned by month
(`flask partitions apply`): the normal write path stores into the right partition, a
repeated idempotency key stores nothing even across a month boundary, the keys and
foreign keys still refuse bad rows, the chain verifies, exports and results are the same
as before the tables were partitioned, and the command is idempotent and refuses clearly."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from support.factories import desk, fill

from survey.core import citizen, ledger, partitions
from survey.core.db import db
from survey.core.errors import ValidationError
from survey.core.exports import service
from survey.core.models import Response
from survey.core.org.agencies import get_agency
from survey.core.periods import parse_period
from survey.core.responses import NewResponse, record_responses
from survey.core.results import queries

TODAY = date(2024, 6, 15)
ANSWERS = {f"U{i}": 3 for i in range(1, 10)}


@pytest.fixture
def pg(org):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("table partitioning is PostgreSQL only: set SURVEY_TEST_DATABASE_URL")
    return org


@pytest.fixture
def partitioned(pg):
    partitions.apply(db.session, "month", ahead=2, today=TODAY)
    db.session.commit()
    return pg


def record(when: datetime, key: str | None = None, code: str = "L1") -> int:
    rid = record_responses(db.session, [NewResponse(
        desk_id=desk(code).id, answers=ANSWERS, submitted_at=when, channel="qr",
        idempotency_key=key)])[0].response_id
    db.session.commit()
    return rid


def partition_of(table: str, column: str, rid: int) -> set[str]:
    return set(db.session.scalars(text(
        f"SELECT DISTINCT tableoid::regclass::text FROM {table} WHERE {column} = :id"),
        {"id": rid}))


def test_responses_and_answers_land_in_the_partition_of_their_local_month(partitioned):
    # 31 May 20:00 UTC is 1 June 03:00 in Jakarta: the agency-local day decides.
    june = record(datetime(2024, 5, 31, 20, tzinfo=UTC))
    may = record(datetime(2024, 5, 31, 10, tzinfo=UTC))
    backdated = record(datetime(2019, 3, 2, 3, tzinfo=UTC))  # a late paper form
    far = record(datetime(2031, 1, 5, 3, tzinfo=UTC))  # beyond the partitions made ahead
    assert partition_of("response", "id", june) == {"response_m2024_06"}
    assert partition_of("answer", "response_id", june) == {"answer_m2024_06"}
    assert partition_of("response", "id", may) == {"response_m2024_05"}
    assert partition_of("response", "id", backdated) == {"response_older"}
    assert partition_of("answer", "response_id", far) == {"answer_later"}
    assert db.session.scalar(text(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'response'::regclass")) == 10
    # The models read them as before.
    assert db.session.get(Response, june).day == date(2024, 6, 1)
    assert len(db.session.get(Response, may).answers) == 9


def survey_input(key: str) -> citizen.SurveyInput:
    return citizen.SurveyInput(answers=dict(ANSWERS), idempotency_key=key)


def test_a_repeated_key_stores_nothing_even_across_a_month_boundary(partitioned):
    before_midnight = datetime(2024, 5, 31, 16, 30, tzinfo=UTC)  # 23:30 in Jakarta
    after_midnight = datetime(2024, 5, 31, 17, 30, tzinfo=UTC)  # 00:30 on 1 June
    first = citizen.submit(db.session, desk(), survey_input("k-1"), channel="qr", flags=(),
                           now=before_midnight)
    again = citizen.submit(db.session, desk(), survey_input("k-1"), channel="qr", flags=(),
                           now=after_midnight)
    assert again.replayed and again.receipt == first.receipt
    assert db.session.scalar(select(func.count()).select_from(Response)) == 1

    # The database itself refuses the key in June's partition, not only the lookup.
    with pytest.raises(IntegrityError, match="idempotency_key"):
        record(after_midnight, key="k-1")
    db.session.rollback()

    # A request that loses the race to a concurrent one with the same key (its lookup saw
    # nothing) gets the first one's receipt back from the unique violation.
    lookups = []
    real_replay = citizen._replay

    def racing_replay(session, key, desk_id):
        lookups.append(key)
        return None if len(lookups) == 1 else real_replay(session, key, desk_id)

    citizen._replay = racing_replay
    try:
        raced = citizen.submit(db.session, desk(), survey_input("k-1"), channel="qr",
                               flags=(), now=after_midnight)
    finally:
        citizen._replay = real_replay
    assert raced.replayed and raced.receipt == first.receipt
    assert db.session.scalar(select(func.count()).select_from(Response)) == 1


def refused(statement: str, match: str, **params) -> None:
    with pytest.raises(DBAPIError, match=match):
        db.session.execute(text(statement), params)
    db.session.rollback()


def test_keys_foreign_keys_and_append_only_still_refuse_bad_rows(partitioned):
    rid = record(datetime(2024, 5, 14, 3, tzinfo=UTC))
    row = db.session.execute(text("SELECT * FROM response WHERE id = :id"), {"id": rid}
                             ).mappings().one()
    element = db.session.scalar(text(
        "SELECT element_id FROM answer WHERE response_id = :id LIMIT 1"), {"id": rid})
    other_element = db.session.scalar(text(
        "SELECT id FROM element WHERE questionnaire_id <> :q LIMIT 1"),
        {"q": row["questionnaire_id"]})
    answer = ("INSERT INTO answer (response_id, element_id, questionnaire_id, score, day) "
              "VALUES (:r, :e, :q, 3, :d)")
    q, day = row["questionnaire_id"], row["day"]
    refused(answer, "fk_answer_response", r=rid + 999, e=element, q=q, d=day)  # no response
    refused(answer, "fk_answer_response", r=rid, e=element, q=q, d=date(2024, 6, 3))
    refused(answer, "fk_answer", r=rid, e=other_element, q=q, d=day)  # other questionnaire
    refused(answer, "duplicate key", r=rid, e=element, q=q, d=day)  # answered twice
    refused("UPDATE answer SET score = 1 WHERE response_id = :r", "append-only", r=rid)
    refused("DELETE FROM response WHERE id = :r", "append-only", r=rid)
    refused("UPDATE response SET hour = 1 WHERE id = :r", "append-only", r=rid)
    # The same id again on another day, in another partition: refused globally.
    refused("INSERT INTO response (id, desk_id, questionnaire_id, submitted_at, day, hour, "
            "channel, verified, flags) SELECT id, desk_id, questionnaire_id, submitted_at, "
            "DATE '2024-06-20', hour, channel, verified, flags FROM response WHERE id = :r",
            "pk_response_key", r=rid)
    refused("INSERT INTO response_key (id, day) VALUES (:r, DATE '2024-05-01')",
            "pk_response_key|fk_response_key", r=rid + 999)
    refused("DELETE FROM response_key", "append-only")
    refused("INSERT INTO review_decision (response_id, kind, decision, reason, created_at) "
            "VALUES (:r, 'flag', 'keep', 'x', now())", "fk_review_decision", r=rid + 999)


def test_the_chain_verifies_and_a_comment_can_still_be_redacted(partitioned, runner):
    rid = record_responses(db.session, [NewResponse(
        desk_id=desk().id, answers=ANSWERS, submitted_at=datetime(2024, 5, 14, 3, tzinfo=UTC),
        channel="qr", comment="Hubungi 0812 3456 7890")])[0].response_id
    record(datetime(2024, 6, 14, 3, tzinfo=UTC))
    db.session.commit()
    result = runner.invoke(args=["responses", "redact", "--id", str(rid), "--reason", "phone"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(Response, rid).comment is None
    report = ledger.verify(db.session)
    assert report.broken is None and report.length >= 3
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "chain intact" in result.output


def exported(period: str) -> list[dict]:
    job = service.ExportJob(get_agency(db.session, "KEC-A"), parse_period(period),
                            include_flagged=True)
    return list(csv.DictReader(io.StringIO("".join(service.csv_chunks(db.session, job)))))


def results(period: str, use_rollups: bool) -> dict:
    scope = queries.agency_scope(db.session, get_agency(db.session, "KEC-A"))
    return queries.compute_groups(db.session, [scope], parse_period(period),
                                  use_rollups=use_rollups)


def test_moving_rows_into_partitions_changes_no_export_and_no_result(pg, runner):
    fill(pg)  # 80 responses in May 2024, some flagged, some with comments
    record(datetime(2024, 6, 3, 3, tzinfo=UTC), key="june")
    before = (exported("2024"), results("2024-05", False), results("2024", True))
    counts = db.session.execute(text(
        "SELECT (SELECT count(*) FROM response), (SELECT count(*) FROM answer)")).one()

    report = partitions.apply(db.session, "month", ahead=2, today=TODAY)
    db.session.commit()
    assert report.converted and (report.responses, report.answers) == tuple(counts)
    assert db.session.scalar(text(
        "SELECT count(*) FROM answer WHERE day IS NULL")) == 0
    after = (exported("2024"), results("2024-05", False), results("2024", True))
    assert after == before
    assert len(after[0]) == counts[0]
    assert ledger.verify(db.session).broken is None
    # The key of a response stored before the move is still taken.
    with pytest.raises(IntegrityError):
        record(datetime(2024, 6, 20, 3, tzinfo=UTC), key="june")
    db.session.rollback()


def test_apply_is_idempotent_keeps_partitions_ahead_and_refuses_clearly(partitioned, runner):
    again = partitions.apply(db.session, "month", ahead=2, today=TODAY)
    assert not again.converted and again.created == []
    later = partitions.ensure_ahead(db.session, ahead=2, today=date(2024, 8, 2))
    assert later.created == ["response_m2024_09", "answer_m2024_09",
                             "response_m2024_10", "answer_m2024_10"]
    db.session.commit()
    assert partitions.status(db.session).last == date(2024, 10, 1)
    with pytest.raises(ValidationError, match="already partitioned by month"):
        partitions.apply(db.session, "year", today=TODAY)

    record(datetime(2025, 1, 6, 3, tzinfo=UTC))  # lands in the default partition
    with pytest.raises(ValidationError, match="1 responses dated from 2024-11-01 on"):
        partitions.ensure_ahead(db.session, ahead=12, today=date(2024, 9, 1))
    db.session.rollback()
    assert partitions.status(db.session).last == date(2024, 10, 1)  # nothing created

    result = runner.invoke(args=["partitions", "status"])
    assert "partitioned by month: 2024-01-01 to 2024-10-01; 1 responses" in result.output


def test_the_command_refuses_where_it_cannot_run(runner, ctx):
    result = runner.invoke(args=["partitions", "apply"])
    if db.engine.dialect.name == "postgresql":
        assert result.exit_code == 0, result.output  # the test schema is the current one
        assert "Partitioned response and answer by month: 0 responses" in result.output
        result = runner.invoke(args=["partitions", "apply"])
        assert result.exit_code == 0 and "Already partitioned by month" in result.output
    else:
        assert result.exit_code == 1
        assert "partitioning needs PostgreSQL; this database is sqlite" in result.output


def test_one_periods_links_verify_alone_and_a_changed_one_is_named(partitioned, runner):
    may = record(datetime(2024, 5, 14, 3, tzinfo=UTC))
    record(datetime(2024, 6, 14, 3, tzinfo=UTC))
    result = runner.invoke(args=["audit", "verify", "--period", "2024-05"])
    assert result.exit_code == 0, result.output
    assert "chain intact: 1 links of the responses of 2024-05" in result.output
    with db.engine.begin() as conn:  # tampering behind the triggers' back
        conn.execute(text("ALTER TABLE answer DISABLE TRIGGER USER"))
        conn.execute(text("UPDATE answer SET score = 1 WHERE response_id = :r"), {"r": may})
        conn.execute(text("ALTER TABLE answer ENABLE TRIGGER USER"))
    result = runner.invoke(args=["audit", "verify", "--period", "2024-05"])
    assert result.exit_code == 1 and f"(response {may})" in result.output
    assert runner.invoke(args=["audit", "verify", "--period", "2024-06"]).exit_code == 0
