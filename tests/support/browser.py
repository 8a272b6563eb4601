"""Debian's headless Chromium for the browser tests, driven by Playwright."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"  # screenshots, git-ignored


def require_browser(*commands: str) -> None:
    """Skip the calling test module when Chromium, Playwright or one of `commands` is
    missing, unless SURVEY_REQUIRE_BROWSER=1 (CI), where a missing tool is a failure."""
    missing = [name for name, present in (
        (str(CHROMIUM), CHROMIUM.exists()),
        ("playwright (the dev extra)", importlib.util.find_spec("playwright")),
        *((command, shutil.which(command)) for command in commands),
    ) if not present]
    if missing:
        reason = "browser tests need " + ", ".join(missing)
        if os.environ.get("SURVEY_REQUIRE_BROWSER") == "1":
            pytest.fail(f"SURVEY_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
        pytest.skip(reason, allow_module_level=True)


BLOCKING = ("serious", "critical")  # axe-core impacts that fail a browser test


def accessibility_problems(page, axe) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now, one line each."""
    results = axe.run(page)
    return [f"{v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])}x, e.g. "
            f"{v['nodes'][0]['target']})" for v in results.response["violations"]
            if v["impact"] in BLOCKING]
