"""Building test data: the organisation through the core's operations as an operator at
the command line calls them (actor None, audited as "cli"), staff accounts, responses, and
the mark of what the fixtures' setup wrote."""

from __future__ import annotations

import functools
import inspect
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select

from survey.core import ledger
from survey.core.db import db
from survey.core.models import Agency, AuditEvent, ChainEntry, Desk, Receipt
from survey.core.org import agencies, checks, desks, periods, services, users, volumes
from survey.core.responses import NewResponse, record_responses

PASSWORD = "long enough password"
MAY = datetime(2024, 5, 14, 3, tzinfo=UTC)  # 10:00 in Jakarta, a Tuesday


class Org:
    """`org.create_agency(session, ...)`, `org.set_volume(...)`, ...: every function of
    survey.core.org's modules; `actor` defaults to None."""

    MODULES = (agencies, desks, services, users, periods, volumes, checks)

    def __getattr__(self, name: str) -> Any:
        for module in self.MODULES:
            function = getattr(module, name, None)
            if inspect.isfunction(function) and function.__module__ == module.__name__:
                if "actor" in inspect.signature(function).parameters:
                    return functools.partial(function, actor=None)
                return function
        raise AttributeError(name)


ORG = Org()


class SetupMark:
    """What the fixtures' setup wrote: organisation changes are audited, so the audit log
    and the hash chain already hold links before a test begins. Tests that count what
    *they* caused compare against this mark (reset for every new application)."""

    audit_id = 0
    links = 0
    head = "0" * 64

    @classmethod
    def reset(cls) -> None:
        cls.audit_id, cls.links, cls.head = 0, 0, "0" * 64

    @classmethod
    def take(cls, session) -> None:
        session.commit()
        cls.audit_id = session.scalar(select(func.max(AuditEvent.id))) or 0
        cls.links, cls.head = ledger.head(session)
        session.commit()  # end the read: later reads must see other sessions' commits


def desk(code: str = "L1", agency: str | None = None) -> Desk:
    """The desk with this code (of this agency, when codes repeat across agencies)."""
    query = select(Desk).where(Desk.code == code)
    if agency:
        query = query.join(Agency).where(Agency.code == agency)
    return db.session.scalars(query).one()


def make_user(org, email: str, role: str, agencies=(), password=PASSWORD):
    user = org.create_user(db.session, email, password, role, list(agencies))
    db.session.commit()
    return user


def fill(org, per_desk=40, seed=3, flagged=3, comments=("Antrean lama",)):
    """Responses at both desks of KEC-A in May 2024, some flagged, some with comments."""
    rng = np.random.default_rng(seed)
    items = []
    for code, base in (("L1", 2.8), ("L2", 3.4)):
        d = desk(code)
        for i in range(per_desk):
            scores = np.clip(np.rint(base + rng.normal(0, 0.6, 9)), 1, 4).astype(int)
            items.append(NewResponse(
                desk_id=d.id, answers={f"U{j + 1}": int(s) for j, s in enumerate(scores)},
                submitted_at=MAY, channel="qr", service_id=d.services[0].id,
                flags=("too_fast",) if i < flagged else (),
                comment=comments[i % len(comments)] if i < len(comments) else None))
    record_responses(db.session, items)
    db.session.commit()


def receipt_of(response_id: int) -> str:
    """The receipt code stored for a response's chain link."""
    return db.session.scalar(
        select(Receipt.code).join(ChainEntry, ChainEntry.seq == Receipt.seq)
        .where(ChainEntry.kind == "response", ChainEntry.ref_id == response_id))


# One account per role (None: a visitor who is not signed in), for the tests that walk
# every page as every role.
ROLE_ACCOUNTS = {
    "anonymous": None,
    "admin": "admin@skm.go.id",
    "agency_manager": "manager@a.go.id",
    "desk_staff": "staff@a.go.id",
    "auditor": "auditor@bpk.go.id",
}


def two_agencies_with_every_role(org):
    """KEC-A filled with responses, a second agency KEC-B with one desk, and one account
    per role of ROLE_ACCOUNTS (managers and desk staff of KEC-A)."""
    fill(org, per_desk=12)
    org.create_agency(db.session, "KEC-B", "Kecamatan B")
    org.create_desk(db.session, "KEC-B", "L1", "Loket B1")
    db.session.commit()
    for role, email in ROLE_ACCOUNTS.items():
        if email:
            make_user(org, email, role, ["KEC-A"] if role in ("agency_manager",
                                                              "desk_staff") else [])
    return org


# A Mal Pelayanan Publik of five agencies, with responses in May 2024 and May 2023 (the
# same month a year earlier), for the league of agencies:
# - A-DINAS: two desks with volumes; a year earlier a few answers lower (a small change,
#   not significant);
# - B-DINAS: one desk, the same answers both years (no change); a second desk served
#   citizens (a volume) but nobody rated it;
# - C-DINAS: no service volume, few respondents (its grade is not yet certain);
# - D-DINAS: much better than a year earlier (a significant rise), a small volume;
# - E-DINAS: responses a year earlier only (no estimate now).
MPP_CODE = "MPP-X"
MAY_2023 = datetime(2023, 5, 16, 3, tzinfo=UTC)


def _scores(rng, n: int, base: float) -> np.ndarray:
    return np.clip(np.rint(base + rng.normal(0, 0.55, (n, 9))), 1, 4).astype(int)


def _respond(d: Desk, scores: np.ndarray, when: datetime) -> list[NewResponse]:
    return [NewResponse(desk_id=d.id, answers={f"U{j + 1}": int(s) for j, s in enumerate(row)},
                        submitted_at=when, channel="qr") for row in scores]


def build_mpp(org) -> dict[str, dict[str, Desk]]:
    """The MPP described above; returns each agency's desks by code."""
    from datetime import date

    rng = np.random.default_rng(2024)
    org.create_agency(db.session, MPP_CODE, "Mal Pelayanan Publik X")
    names = {"A-DINAS": "Dinas Arsip", "B-DINAS": "Badan Pendapatan",
             "C-DINAS": "Catatan Sipil", "D-DINAS": "Dinas Perizinan",
             "E-DINAS": "Entitas Baru"}
    desks: dict[str, dict[str, Desk]] = {}
    for code, name in names.items():
        org.create_agency(db.session, code, name, parent_code=MPP_CODE)
        count = 2 if code in ("A-DINAS", "B-DINAS") else 1
        desks[code] = {f"L{i}": org.create_desk(db.session, code, f"L{i}", f"{name} loket {i}")
                       for i in range(1, count + 1)}
    may = date(2024, 5, 1)
    for code, key, served in (("A-DINAS", "L1", 600), ("A-DINAS", "L2", 400),
                              ("B-DINAS", "L1", 2000), ("B-DINAS", "L2", 300),
                              ("D-DINAS", "L1", 100)):
        org.set_volume(db.session, desks[code][key], "month", may, served)
    items: list[NewResponse] = []
    for key in ("L1", "L2"):
        now = _scores(rng, 60, 3.4)
        before = now.copy()
        before[:2, :4] = np.maximum(before[:2, :4] - 1, 1)  # two respondents, four answers lower
        items += _respond(desks["A-DINAS"][key], now, MAY) + _respond(
            desks["A-DINAS"][key], before, MAY_2023)
    same = _scores(rng, 80, 3.0)
    items += _respond(desks["B-DINAS"]["L1"], same, MAY)
    items += _respond(desks["B-DINAS"]["L1"], same, MAY_2023)
    items += _respond(desks["C-DINAS"]["L1"], _scores(rng, 25, 3.1), MAY)
    items += _respond(desks["D-DINAS"]["L1"], _scores(rng, 60, 3.6), MAY)
    items += _respond(desks["D-DINAS"]["L1"], _scores(rng, 60, 2.6), MAY_2023)
    items += _respond(desks["E-DINAS"]["L1"], _scores(rng, 30, 3.0), MAY_2023)
    record_responses(db.session, items)
    db.session.commit()
    return desks
