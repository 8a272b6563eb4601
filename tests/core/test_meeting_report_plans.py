"""The meeting report's follow-up plan table: each agency's actions for the period counted
by status, and the overdue ones (still owed, past their due date on the agency's own
day) counted as well, so that the meeting sees who is late."""

from __future__ import annotations

from datetime import UTC, datetime

from support.factories import MPP_CODE, build_mpp, make_user

from survey.core.db import db
from survey.core.exports import mpp_report
from survey.core.exports.mpp_report import PlanStatus
from survey.core.org.agencies import get_agency
from survey.core.periods import parse_period
from survey.core.results import followups

PERIOD = parse_period("2024-05")
NOW = datetime(2024, 7, 1, 3, tzinfo=UTC)  # 10:00 in Jakarta, 1 July 2024


def plan(agency_code: str, status: str, due: str, user) -> None:
    followups.save(db.session, get_agency(db.session, agency_code), PERIOD, {
        "element_code": "U3", "action": "Tambah petugas pada jam sibuk",
        "owner": "Kepala seksi pelayanan", "status": status, "due_date": due}, user)


def test_each_agency_s_plan_is_counted_by_status_with_its_overdue_actions(org):
    build_mpp(org)
    manager = make_user(org, "admin@skm.go.id", "admin")
    plan("A-DINAS", "done", "2024-06-15", manager)
    plan("A-DINAS", "in_progress", "2024-06-30", manager)  # owed, due yesterday: overdue
    plan("A-DINAS", "planned", "2024-07-01", manager)      # due today: not yet overdue
    plan("B-DINAS", "cancelled", "2024-06-01", manager)    # cancelled: never overdue
    plan("B-DINAS", "planned", "2024-06-10", manager)      # overdue
    db.session.commit()

    report = mpp_report.build(db.session, get_agency(db.session, MPP_CODE), PERIOD, NOW)

    assert report.plans["A-DINAS"] == PlanStatus(planned=1, in_progress=1, done=1, overdue=1)
    assert report.plans["B-DINAS"] == PlanStatus(planned=1, cancelled=1, overdue=1)
    assert report.plans["C-DINAS"] == PlanStatus()  # no plan yet
    assert report.plans["A-DINAS"].total == 3
