"""Shared fixtures for the IKM engine tests (no package layout: helpers are fixtures)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from survey.ikm import StratumStats, cli

# The spec's golden cases, copied into the repository so that a clean clone tests them.
GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CODES_2017 = tuple(f"U{i}" for i in range(1, 10))


@pytest.fixture
def golden_dir() -> Path:
    if not GOLDEN.is_dir():
        pytest.fail(f"golden files not found at {GOLDEN}")
    return GOLDEN


def write_csv(path: Path, rows: list[list[Any]], header: list[str] | None = None,
              newline: str = "\n", bom: bool = False) -> Path:
    """A canonical responses CSV; ``0``/None/"" scores are written as empty cells."""
    head = header or ["agency", "desk", *CODES_2017]
    lines = [",".join(head)]
    for row in rows:
        lines.append(",".join("" if v in (None, 0, "") else str(v) for v in row))
    text = newline.join(lines) + newline
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code, out, err = run_cli(capsys, "compute", *argv, "--format", "json")
    assert code == 0, err
    assert err == ""
    return json.loads(out)


def random_scores(rng: np.random.Generator, n: int, n_elements: int = 9,
                  blank_rate: float = 0.0, probs: tuple[float, ...] = (0.05, 0.15, 0.5, 0.3)
                  ) -> np.ndarray:
    y = rng.choice([1, 2, 3, 4], size=(n, n_elements), p=probs)
    if blank_rate:
        y[rng.random((n, n_elements)) < blank_rate] = 0
    return y


def stats(scores: Any) -> StratumStats:
    return StratumStats.from_scores(np.asarray(scores))


@pytest.fixture
def h() -> SimpleNamespace:
    """Helper functions for the tests."""
    funcs: dict[str, Callable[..., Any]] = {
        "write_csv": write_csv,
        "run_cli": run_cli,
        "run_json": run_json,
        "random_scores": random_scores,
        "stats": stats,
    }
    return SimpleNamespace(**funcs)
