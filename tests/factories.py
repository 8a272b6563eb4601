"""The organisation for tests: the core's operations as an operator at the command line
calls them (actor None, audited as "cli"), reachable from one object."""

from __future__ import annotations

import functools
import inspect
from typing import Any

from survey.core.org import agencies, checks, desks, periods, services, users, volumes


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
        from sqlalchemy import func, select

        from survey.core import ledger
        from survey.core.models import AuditEvent

        session.commit()
        cls.audit_id = session.scalar(select(func.max(AuditEvent.id))) or 0
        cls.links, cls.head = ledger.head(session)
        session.commit()  # end the read: later reads must see other sessions' commits
