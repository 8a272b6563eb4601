"""Every benchmark in its smoke mode: tiny sizes on SQLite files of its own (in a temporary
directory), run as `python -m benchmarks.<name> --smoke` from the repository root. Each
must exit 0 (its correctness checks passed) and print its table. No timing is asserted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def smoke(name: str, *args: str, timeout: float = 120) -> str:
    """Run one benchmark's smoke mode; its standard output."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "FLASK_DEBUG")}
    proc = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", "--smoke", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    assert proc.returncode == 0, (
        f"benchmarks.{name} --smoke exited {proc.returncode}\n"
        f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}")
    return proc.stdout


def is_rule(line: str) -> bool:
    return set(line.replace(" ", "")) == {"-"}


def table_after(out: str, heading: str) -> list[str]:
    """The first table after a heading line: its header, its rule of dashes and at least
    one row."""
    lines = [*out.splitlines(), ""]
    start = next((i for i, line in enumerate(lines) if line.startswith(heading)), None)
    assert start is not None, f"no {heading!r} in:\n{out}"
    top = next((i for i in range(start + 1, len(lines) - 1) if is_rule(lines[i + 1])), None)
    assert top is not None, f"no table after {heading!r}:\n{out}"
    end = lines.index("", top)
    assert end - top >= 3, f"an empty table after {heading!r}:\n{out}"
    return lines[top:end]


def assert_checks_ok(out: str) -> None:
    checks = out.split("## checks", 1)[1].strip().splitlines()
    assert checks, out
    assert all(line.startswith("ok") for line in checks), "\n".join(checks)


def test_engine_pure() -> None:
    out = smoke("engine_pure")
    rows = table_after(out, "# IKM engine benchmark")
    labels = "\n".join(rows)
    assert "engine: 550 results" in labels
    assert "max relative difference, ikm se" in labels
    assert "`ikm compute` whole process" in labels
    assert "FAIL" not in out


def test_engine() -> None:
    out = smoke("engine")
    rows = table_after(out, "## (a) (b) one semester")
    assert rows[0].split()[:2] == ["measure", "SQLite"]
    assert any(r.startswith("(a) compute_groups, 9 results, from rollups") for r in rows)
    assert any(r.startswith("(b) the same from raw rows") for r in rows)
    table_after(out, "## (c) samplics")
    table_after(out, "## (d) `ikm compute`")
    submit = table_after(out, "## (e) rollups in the submit transaction")
    assert any(r.startswith("SQLite, no rollups") for r in submit)
    assert_checks_ok(out)
    assert "samplics == ours, 9 results" in out
    assert "ikm compute on the CSV == compute_groups" in out


def test_dashboard() -> None:
    out = smoke("dashboard")
    rows = table_after(out, "## server time per page")
    labels = "\n".join(rows)
    for page in ("dashboard, year (2025)", "public page", "SVG badge", "API results",
                 "first year page in a fresh process (cold)"):
        assert page in labels
    assert_checks_ok(out)
    assert "API 2025: n == SQL count" in out


def test_exports() -> None:
    out = smoke("exports")
    rows = table_after(out, "# Exports and chain verification: 2,000 responses")[2:]
    assert rows[0].startswith("CSV export: rows/s")
    assert any(r.startswith("chain verification: links/s") for r in rows)
    assert "ok    every response exported once; every link verified" in out


@pytest.mark.slow
def test_submit() -> None:
    """gunicorn with the application and with the bare app, a second per load phase."""
    out = smoke("submit")
    rows = table_after(out, "## max throughput: closed loop")
    assert rows[0].split() == ["measure", "SQLite", "survey", "SQLite", "bare"]
    assert any(r.startswith("submissions/s") for r in rows)
    table_after(out, "## steady load: open loop, 5 submissions/s")
    assert_checks_ok(out)


def test_coverage() -> None:
    """The coverage harness of the published interval: every configuration's table."""
    out = smoke("coverage")
    for config in ("one desk", "6 desks, stratified", "6 desks, pooled",
                   "desks of a 6-desk agency", "elements, one desk, 10% blank"):
        rows = table_after(out, f"## {config}")
        assert rows[0].split()[:4] == ["rho", "n", "index", "true"]
        assert len(rows) == 4  # header, rule, the two smoke cells
    assert_checks_ok(out)


@pytest.mark.slow
def test_imports() -> None:
    out = smoke("imports")
    labels = "\n".join(table_after(out, "# CSV import of 600 paper responses"))
    assert "chain lock held" in labels
    assert "their slowest POST (ms)" in labels
    assert_checks_ok(out)


@pytest.mark.slow
def test_faults() -> None:
    """gunicorn workers killed with SIGKILL while citizens submit: none acknowledged lost."""
    out = smoke("faults")
    labels = "\n".join(table_after(out, "# Fault runs"))
    assert "lost: acknowledged, not stored (must be 0)" in labels
    assert "SQLite kill-9" in labels
    assert_checks_ok(out)


def test_kiosk_sync() -> None:
    """Two rounds of 50 kept responses sent and sent again: each stored exactly once."""
    out = smoke("kiosk_sync")
    rows = table_after(out, "# Kiosk sync: 50 kept responses")
    labels = "\n".join(rows)
    assert "50 new responses: p50 / p90" in labels
    assert "the same 50 again, all acknowledged as stored" in labels
    assert "FAILED" not in out


def test_dashboard_mpp() -> None:
    """The MPP variant: the parent's pages, timed with kept figures and computed afresh."""
    out = smoke("dashboard", "--mpp")
    labels = "\n".join(table_after(out, "## server time per page"))
    assert "# Agency dashboard: MPP, 3 agencies of 3 desks" in out
    assert "dashboard, year (2025), computed afresh" in labels
    assert_checks_ok(out)


def test_submit_profile() -> None:
    """The in-process CPU profile of a citizen submission: every one stored."""
    out = smoke("submit_profile")
    assert "## SQLite: CPU per cycle" in out
    assert "the application's functions by cumulative CPU" in out
    assert "record_responses (core/responses.py" in out
    assert_checks_ok(out)


@pytest.mark.skipif(not os.environ.get("SURVEY_TEST_DATABASE_URL", "").startswith("postgres"),
                    reason="PostgreSQL only (partitioning): runs in the PostgreSQL pass")
def test_national() -> None:
    """50M responses, in miniature: both layouts give the same pages, exports and
    one-period chain check."""
    out = smoke("national", timeout=300)
    assert "dashboard NAS 2025" in out and "partitioned (month)" in out
    assert_checks_ok(out)
