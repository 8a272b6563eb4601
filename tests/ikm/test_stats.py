"""Sufficient statistics: exact, additive, storable as flat rollup rows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from survey.ikm import (
    StratumStats,
    estimate_desk,
    flat_length,
    flat_names,
    reduce_flat,
    reduce_rows,
    sum_stats,
)
from survey.ikm.stats import GramAccumulator


def naive(y: np.ndarray) -> StratumStats:
    """The definition, written out with explicit loops over element pairs."""
    y = np.asarray(y, dtype=np.int64)
    j = y.shape[1]
    cnt = np.zeros((j, j), dtype=np.int64)
    sy = np.zeros((j, j), dtype=np.int64)
    syy = np.zeros((j, j), dtype=np.int64)
    for a in range(j):
        for b in range(j):
            both = (y[:, a] > 0) & (y[:, b] > 0)
            cnt[a, b] = both.sum()
            sy[a, b] = y[both, a].sum()
            syy[a, b] = (y[both, a] * y[both, b]).sum()
    return StratumStats(y.shape[0], cnt, sy, syy)


score_rows = arrays(np.int8, st.tuples(st.integers(0, 40), st.just(9)),
                    elements=st.integers(0, 4))


@settings(max_examples=60, deadline=None)
@given(score_rows)
def test_from_scores_matches_the_definition(y: np.ndarray) -> None:
    assert StratumStats.from_scores(y) == naive(y)


@settings(max_examples=60, deadline=None)
@given(score_rows, score_rows)
def test_statistics_add_up(a: np.ndarray, b: np.ndarray) -> None:
    """Stats of A + stats of B == stats of the concatenated rows (days and desks add)."""
    whole = StratumStats.from_scores(np.concatenate([a, b]))
    assert StratumStats.from_scores(a) + StratumStats.from_scores(b) == whole
    assert sum([StratumStats.from_scores(a), StratumStats.from_scores(b)]) == whole
    assert sum_stats([StratumStats.from_scores(a), StratumStats.from_scores(b)]) == whole


@settings(max_examples=60, deadline=None)
@given(score_rows)
def test_flat_rollup_row_round_trips(y: np.ndarray) -> None:
    s = StratumStats.from_scores(y)
    flat = s.to_flat()
    assert len(flat) == 172 and all(isinstance(v, int) for v in flat)
    assert StratumStats.from_flat(9, flat) == s


def test_flat_layout_is_documented_by_names() -> None:
    codes = [f"U{i}" for i in range(1, 10)]
    names = flat_names(codes)
    assert len(names) == flat_length(9) == 1 + 45 + 81 + 45
    y = np.array([[4, 3, 0, 1, 2, 3, 4, 4, 2], [1, 0, 2, 3, 4, 4, 4, 1, 3]])
    row = dict(zip(names, StratumStats.from_scores(y).to_flat(), strict=True))
    assert row["n"] == 2
    assert row["cnt_U1_U3"] == 1 and row["cnt_U2_U2"] == 1 and row["cnt_U1_U1"] == 2
    assert row["sy_U1_U2"] == 4 and row["sy_U2_U1"] == 3 and row["sy_U1_U1"] == 5
    assert row["sy_U3_U1"] == 2 and row["sy_U1_U3"] == 1
    assert row["syy_U1_U9"] == 4 * 2 + 1 * 3
    assert flat_length(14) == 1 + 105 + 196 + 105


def test_reduce_rows_groups_without_a_loop_per_row(h) -> None:
    rng = np.random.default_rng(11)
    y = h.random_scores(rng, 5000, blank_rate=0.1)
    keys = rng.choice(["KEC-A/L1", "KEC-A/L2", "MPP/B"], size=5000)
    out = reduce_rows(keys, y)
    assert list(out) == ["KEC-A/L1", "KEC-A/L2", "MPP/B"]
    for key, s in out.items():
        assert s == naive(y[keys == key])


@pytest.mark.parametrize("n_groups", [1, 7, 3000])
def test_reduce_rows_small_and_large_groups_alike(h, n_groups: int) -> None:
    """Many tiny groups (padded batches) and few large ones (one product each) agree."""
    rng = np.random.default_rng(n_groups)
    y = h.random_scores(rng, 9000, blank_rate=0.2)
    keys = rng.integers(0, n_groups, size=9000)
    keys[:200] = 0  # one larger group among the small ones
    out = reduce_rows(keys, y)
    for key in [*list(out)[:5], 0]:
        assert out[key] == naive(y[keys == key])
    assert sum(s.n for s in out.values()) == 9000


def test_streaming_accumulator_equals_one_reduction(h) -> None:
    rng = np.random.default_rng(5)
    y = h.random_scores(rng, 3000, blank_rate=0.05)
    ids = rng.integers(0, 40, size=3000)
    acc = GramAccumulator(9)
    for start in range(0, 3000, 700):
        acc.add(ids[start:start + 700], y[start:start + 700])
    streamed = acc.result(41)
    whole = reduce_rows(ids, y)
    for g in range(40):
        assert streamed[g] == whole.get(g, StratumStats.zeros(9))
    assert streamed[40] == StratumStats.zeros(9)


def test_reduce_flat_sums_daily_rollups_per_desk(h) -> None:
    rng = np.random.default_rng(9)
    days = {(d, day): h.random_scores(rng, int(rng.integers(1, 30)), blank_rate=0.1)
            for d in ("A", "B") for day in range(5)}
    keys = [d for d, _ in days]
    rows = [StratumStats.from_scores(y).to_flat() for y in days.values()]
    out = reduce_flat(keys, rows, 9)
    for desk in ("A", "B"):
        merged = np.concatenate([y for (d, _), y in days.items() if d == desk])
        assert out[desk] == StratumStats.from_scores(merged)


def test_estimate_from_rollups_equals_estimate_from_rows(h) -> None:
    rng = np.random.default_rng(2)
    parts = [h.random_scores(rng, 50, blank_rate=0.1) for _ in range(4)]
    from_rows = estimate_desk(StratumStats.from_scores(np.concatenate(parts)), 900)
    summed = sum_stats(StratumStats.from_flat(9, StratumStats.from_scores(p).to_flat())
                       for p in parts)
    assert estimate_desk(summed, 900) == from_rows


def test_statistics_are_immutable() -> None:
    s = StratumStats.from_scores([[4, 3, 2, 1, 0, 4, 3, 2, 1]])
    with pytest.raises(ValueError):
        s.cnt[0, 0] = 7
    with pytest.raises(AttributeError):
        s.n = 3  # type: ignore[misc]


@pytest.mark.parametrize("bad", [
    lambda f: f.__setitem__(0, f[0] - 1),        # n below an element count
    lambda f: f.__setitem__(2, f[2] + 50),       # pair count above its element count
    lambda f: f.__setitem__(47, 10_000),         # score sum above 4 x count
])
def test_corrupted_rollup_rows_are_rejected(bad) -> None:
    y = np.array([[4, 3, 2, 1, 3, 4, 3, 2, 1], [3, 3, 3, 3, 3, 3, 3, 3, 3]])
    flat = StratumStats.from_scores(y).to_flat()
    bad(flat)
    with pytest.raises(ValueError):
        StratumStats.from_flat(9, flat)
    with pytest.raises(ValueError):
        reduce_flat(["x"], [flat], 9)


@pytest.mark.parametrize("scores", [[[5, 1]], [[-1, 2]], [[1.5, 2]], [1, 2, 3]])
def test_scores_outside_zero_to_four_are_rejected(scores) -> None:
    with pytest.raises(ValueError):
        StratumStats.from_scores(np.array(scores))
