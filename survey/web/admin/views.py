"""The admin blueprint: administrators manage everything; agency managers manage the desks,
services and volumes of their agencies (and of the agencies below them). One module per
resource; each declares its endpoints' access rules, collected here for the app factory.
Every change is one write transaction in which the core writes its audit event."""

from __future__ import annotations

from survey.web.admin import agencies, desks, periods, services, users, volumes
from survey.web.admin.common import bp

POLICY = {**agencies.POLICY, **desks.POLICY, **services.POLICY, **users.POLICY,
          **periods.POLICY, **volumes.POLICY}

__all__ = ["POLICY", "bp"]
