"""Comparing results documents (the JSON of `ikm compute`, the API, the manifest)."""

from __future__ import annotations

import pytest


def assert_same_results(actual, expected, path: str = "$") -> None:
    """Two JSON documents of results are equal: the same keys and values, floats to 1e-9
    relative (the engine's outputs are unrounded)."""
    if isinstance(actual, dict):
        assert set(actual) == set(expected), path
        for key in actual:
            assert_same_results(actual[key], expected[key], f"{path}.{key}")
    elif isinstance(actual, list):
        assert len(actual) == len(expected), path
        for i, (a, b) in enumerate(zip(actual, expected, strict=True)):
            assert_same_results(a, b, f"{path}[{i}]")
    elif isinstance(actual, float) and isinstance(expected, float):
        assert actual == pytest.approx(expected, rel=1e-9, abs=1e-12), path
    else:
        assert actual == expected, path
