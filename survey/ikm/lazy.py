"""scipy.special, imported on first use.

Loading scipy costs about 30 MB and a few hundred milliseconds; the web application and
its commands import the engine at start-up but many processes (a CSV export, a worker
that only stores responses) never estimate anything."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _LazyModule:
    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)


special = _LazyModule("scipy.special")
