"""Fixtures the web tests share."""

from __future__ import annotations

import pytest
from support.factories import make_user
from support.web import login


@pytest.fixture
def manager(client, org):
    """A test client signed in as the manager of KEC-A."""
    make_user(org, "m@kec-a.go.id", "agency_manager", ["KEC-A"])
    login(client, "m@kec-a.go.id")
    return client
