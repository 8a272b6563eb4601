"""Deciding many flagged responses at once moves the statistics exactly as deciding them
one by one, and a batch that cannot be decided leaves no trace."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from support.factories import desk, fill, make_user

from survey.core import ledger
from survey.core.db import db, write_transaction
from survey.core.errors import NotFound, ValidationError
from survey.core.models import AuditEvent, Response, ReviewDecision, StatsRollup
from survey.core.review import decide_many, review_flag


def clean_n() -> int:
    return db.session.scalar(select(func.sum(StatsRollup.n)).where(
        StatsRollup.scope == "clean", StatsRollup.grain == "M")) or 0


def flagged_ids() -> list[int]:
    return list(db.session.scalars(select(Response.id).where(Response.flags != "")
                                   .order_by(Response.id)))


def test_a_bulk_release_moves_the_statistics_like_single_releases(org):
    fill(org, per_desk=10, flagged=3)
    manager = make_user(org, "m@kec-a.go.id", "agency_manager", ["KEC-A"])
    ids = flagged_ids()
    before = clean_n()
    with write_transaction(db.session):
        rows = decide_many(db.session, "flag", ids[:4], "release", "satu keluarga", manager,
                           desk_ids={desk("L1").id, desk("L2").id})
    assert len(rows) == 4 and clean_n() == before + 4
    with write_transaction(db.session):  # one by one, as before, for the rest
        for rid in ids[4:]:
            review_flag(db.session, rid, "release", "satu keluarga", manager)
    assert clean_n() == before + len(ids)
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "review_release").order_by(AuditEvent.id)).all()
    assert [e.target for e in events] == [f"response:{i}" for i in ids]
    assert ledger.verify(db.session).broken is None


@pytest.mark.parametrize(("ids", "error"), [
    (lambda ids: [*ids[:2], ids[0]], None),  # a repeated id counts once: accepted
    (lambda ids: [*ids[:2], 10**12], NotFound),  # a response that does not exist
    (lambda ids: [], ValidationError),
    (lambda ids: list(range(1, 300)), ValidationError),  # more than BULK_MAX
])
def test_a_refused_batch_writes_nothing(org, ids, error):
    fill(org, per_desk=10, flagged=3)
    manager = make_user(org, "m@kec-a.go.id", "agency_manager", ["KEC-A"])
    chosen = ids(flagged_ids())
    before = (clean_n(), ledger.head(db.session))
    db.session.commit()
    if error is None:
        with write_transaction(db.session):
            assert len(decide_many(db.session, "flag", chosen, "release", "x", manager)) == 2
        return
    with pytest.raises(error), write_transaction(db.session):
        decide_many(db.session, "flag", chosen, "release", "x", manager)
    assert (clean_n(), ledger.head(db.session)) == before
    assert not db.session.scalar(select(func.count()).select_from(ReviewDecision))
