"""Sufficient statistics of one stratum (a desk, or a desk on one day).

The engine never needs raw answers: for every element pair (j, k) it needs, over the
respondents who answered both, the count, the sum of y_j and the sum of y_j * y_k
(docs/methodology.md). These are integers and add up over days and
desks, so the database can keep them in small rollup rows and sum them with SQL, and the
CSV reader can reduce a million rows chunk by chunk without holding them in memory.

Layout, for J elements: ``cnt[j, k]`` = respondents who answered both j and k (diagonal:
answered j), ``sy[j, k]`` = sum of y_j over those respondents (not symmetric; diagonal:
sum of the scores of j), ``syy[j, k]`` = sum of y_j * y_k over them (symmetric).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_SCORE = 4

# Rows per block when reducing: per-group sums inside one block stay below 2**24, so the
# float32 matrix products are exact (16 * 2**16 < 2**24) and are added up in int64.
_BLOCK_ROWS = 1 << 16
# Groups up to the last size are padded and multiplied in batches, bucketed by size so
# padding at most quadruples the work; larger groups get one matrix product each.
_PAD_LIMITS = (4, 16, 64)


def _frozen_int_matrix(value: Any, name: str) -> np.ndarray:
    array = np.array(value, dtype=np.int64, copy=True)
    if array.ndim != 2 or array.shape[0] != array.shape[1] or array.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty square matrix, got shape {array.shape}")
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class StratumStats:
    """Integer sufficient statistics of one stratum; immutable and additive.

    ``n`` counts respondents (a respondent who left every element blank still counts: the
    ratio estimator treats blanks as item non-response, not as missing respondents).
    """

    n: int
    cnt: np.ndarray
    sy: np.ndarray
    syy: np.ndarray

    def __post_init__(self) -> None:
        n = int(self.n)
        cnt = _frozen_int_matrix(self.cnt, "cnt")
        sy = _frozen_int_matrix(self.sy, "sy")
        syy = _frozen_int_matrix(self.syy, "syy")
        if not (cnt.shape == sy.shape == syy.shape):
            raise ValueError("cnt, sy and syy must have the same shape")
        if n < 0:
            raise ValueError("n must be non-negative")
        _check_consistent(n, cnt, sy, syy)
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "cnt", cnt)
        object.__setattr__(self, "sy", sy)
        object.__setattr__(self, "syy", syy)

    # -- construction -------------------------------------------------------------------

    @classmethod
    def zeros(cls, n_elements: int) -> StratumStats:
        """The empty stratum: the neutral element of ``+``."""
        z = np.zeros((n_elements, n_elements), dtype=np.int64)
        return cls(0, z, z, z)

    @classmethod
    def from_scores(cls, scores: Any) -> StratumStats:
        """Statistics of an (n, J) array of scores 1..4, where 0 means a blank answer."""
        y = _check_scores(scores)
        gram = _gram_exact(y)
        return _from_gram(y.shape[0], gram, y.shape[1])

    @classmethod
    def from_flat(cls, n_elements: int, values: Sequence[int] | np.ndarray) -> StratumStats:
        """Inverse of :meth:`to_flat` (the database rollup row layout)."""
        flat = np.asarray(values, dtype=np.int64)
        if flat.ndim != 1 or flat.shape[0] != flat_length(n_elements):
            raise ValueError(
                f"expected {flat_length(n_elements)} values for {n_elements} elements, "
                f"got {flat.shape}"
            )
        return _from_flat_rows(n_elements, flat[None, :])[0]

    # -- views --------------------------------------------------------------------------

    @property
    def n_elements(self) -> int:
        return int(self.cnt.shape[0])

    @property
    def answered(self) -> np.ndarray:
        """Respondents who answered each element (n_j)."""
        return np.diagonal(self.cnt).copy()

    @property
    def totals(self) -> np.ndarray:
        """Sum of the scores of each element (the worksheet's "jumlah nilai per unsur")."""
        return np.diagonal(self.sy).copy()

    def to_flat(self) -> list[int]:
        """Flat integers for a rollup row: n, upper-triangular cnt (row-major, diagonal
        included), the full sy matrix (row-major), upper-triangular syy.
        For J = 9 that is 1 + 45 + 81 + 45 = 172 numbers; see :func:`flat_names`."""
        iu = np.triu_indices(self.n_elements)
        return [self.n, *self.cnt[iu].tolist(), *self.sy.ravel().tolist(),
                *self.syy[iu].tolist()]

    # -- algebra ------------------------------------------------------------------------

    def __add__(self, other: object) -> StratumStats:
        if not isinstance(other, StratumStats):
            return NotImplemented
        if other.n_elements != self.n_elements:
            raise ValueError("cannot add statistics of different element counts")
        return StratumStats(self.n + other.n, self.cnt + other.cnt, self.sy + other.sy,
                            self.syy + other.syy)

    def __radd__(self, other: object) -> StratumStats:
        # Lets the built-in sum() start from 0.
        if isinstance(other, int) and other == 0:
            return self
        return NotImplemented

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StratumStats):
            return NotImplemented
        return (self.n == other.n and np.array_equal(self.cnt, other.cnt)
                and np.array_equal(self.sy, other.sy) and np.array_equal(self.syy, other.syy))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"StratumStats(n={self.n}, J={self.n_elements}, answered={self.answered.tolist()})"


def _check_consistent(n: Any, cnt: np.ndarray, sy: np.ndarray, syy: np.ndarray) -> None:
    """Reject statistics no set of answers could produce (a corrupted rollup row would
    otherwise give a plausible-looking but wrong index). Works on one stratum or a stack."""
    n = np.asarray(n)[..., None]
    if not (np.array_equal(cnt, np.swapaxes(cnt, -1, -2))
            and np.array_equal(syy, np.swapaxes(syy, -1, -2))):
        raise ValueError("cnt and syy must be symmetric")
    diag = np.diagonal(cnt, axis1=-2, axis2=-1)
    if (n < 0).any() or (cnt < 0).any() or (diag > n).any():
        raise ValueError("counts must lie between 0 and n")
    if (cnt > np.minimum(diag[..., :, None], diag[..., None, :])).any():
        raise ValueError("a pair count exceeds the count of one of its elements")
    if (sy < cnt).any() or (sy > MAX_SCORE * cnt).any():
        raise ValueError("score sums must lie between 1 and 4 times the counts")
    if (syy < cnt).any() or (syy > MAX_SCORE * MAX_SCORE * cnt).any():
        raise ValueError("score products must lie between 1 and 16 times the counts")


def _trusted(n: int, cnt: np.ndarray, sy: np.ndarray, syy: np.ndarray) -> StratumStats:
    """Build without re-validating: for statistics this module just computed (or checked
    in bulk), where per-object checks would dominate the time of a large reduction."""
    obj = object.__new__(StratumStats)
    for name, value in (("cnt", cnt), ("sy", sy), ("syy", syy)):
        value.setflags(write=False)
        object.__setattr__(obj, name, value)
    object.__setattr__(obj, "n", int(n))
    return obj


def flat_length(n_elements: int) -> int:
    """Length of a flat rollup row: 1 + J(J+1)/2 + J^2 + J(J+1)/2."""
    tri = n_elements * (n_elements + 1) // 2
    return 1 + 2 * tri + n_elements * n_elements


def flat_names(codes: Sequence[str]) -> list[str]:
    """Column names for a flat rollup row, e.g. ``n, cnt_U1_U1, ..., sy_U9_U9, syy_...``."""
    iu, ju = np.triu_indices(len(codes))
    pairs = [f"{codes[a]}_{codes[b]}" for a, b in zip(iu.tolist(), ju.tolist(), strict=True)]
    full = [f"{a}_{b}" for a in codes for b in codes]
    return ["n", *(f"cnt_{p}" for p in pairs), *(f"sy_{p}" for p in full),
            *(f"syy_{p}" for p in pairs)]


def sum_stats(items: Iterable[StratumStats], n_elements: int | None = None) -> StratumStats:
    """Sum of many strata (e.g. the days of a period); ``n_elements`` is needed only for an
    empty iterable."""
    items = list(items)
    if not items:
        if n_elements is None:
            raise ValueError("n_elements is required to sum an empty collection")
        return StratumStats.zeros(n_elements)
    j = items[0].n_elements
    if any(s.n_elements != j for s in items):
        raise ValueError("cannot add statistics of different element counts")
    return StratumStats(
        sum(s.n for s in items),
        np.sum([s.cnt for s in items], axis=0),
        np.sum([s.sy for s in items], axis=0),
        np.sum([s.syy for s in items], axis=0),
    )


def _check_scores(scores: Any) -> np.ndarray:
    y = np.asarray(scores)
    if y.ndim != 2 or y.shape[1] == 0:
        raise ValueError(f"scores must be an (n, J) array, got shape {y.shape}")
    integral = y.dtype.kind in "iu" or (
        y.dtype.kind == "f" and bool(np.isfinite(y).all()) and np.array_equal(y, np.round(y))
    )
    if y.size and not integral:
        raise ValueError("scores must be integers 0..4 (0 = blank)")
    if y.size and (y.min() < 0 or y.max() > MAX_SCORE):
        raise ValueError("scores must lie in 0..4 (0 = blank)")
    return y.astype(np.int8, copy=False)


def _design(y: np.ndarray) -> np.ndarray:
    """Per-row features [y_1..y_J, r_1..r_J]; their Gram matrix holds syy, sy and cnt."""
    return np.concatenate([y, (y > 0).astype(np.int8)], axis=1)


def _gram_exact(y: np.ndarray) -> np.ndarray:
    """Gram matrix of the features, exact (float64 sums of integers below 2**53)."""
    z = _design(y).astype(np.float64)
    return np.rint(z.T @ z).astype(np.int64)


def _from_gram(n: int, gram: np.ndarray, n_elements: int) -> StratumStats:
    j = n_elements
    gram = gram.copy()
    return _trusted(n, gram[j:, j:], gram[:j, j:], gram[:j, :j])


def _grouped_grams(ids: np.ndarray, n_groups: int, y: np.ndarray) -> np.ndarray:
    """Gram matrices of the features per group, (G, 2J, 2J) int64, without a Python loop
    per row: rows are sorted by group (a radix sort for small ids); a large group is one
    matrix product, small groups are zero-padded into batches of similar size and
    multiplied together (padding rows add nothing). Every partial product sums fewer than
    2**20 rows, so float32 is exact; totals are kept in float64 (exact below 2**53)."""
    width = 2 * y.shape[1]
    out = np.zeros((n_groups, width, width), dtype=np.float64)
    if y.shape[0] == 0:
        return out.astype(np.int64)
    key = ids.astype(np.int16 if n_groups < (1 << 15) else np.int64, copy=False)
    order = np.argsort(key, kind="stable")
    sorted_ids = key[order]
    starts = np.concatenate(([0], np.flatnonzero(sorted_ids[1:] != sorted_ids[:-1]) + 1))
    sizes = np.diff(np.concatenate((starts, [y.shape[0]])))
    groups = sorted_ids[starts].astype(np.int64)
    large = sizes > _PAD_LIMITS[-1]
    for g, s, size in zip(groups[large].tolist(), starts[large].tolist(),
                          sizes[large].tolist(), strict=True):
        for piece in range(s, s + size, _BLOCK_ROWS):
            rows = order[piece:min(piece + _BLOCK_ROWS, s + size)]
            z = _design(y[rows]).astype(np.float32)
            out[g] += z.T @ z
    low = 0
    for high in _PAD_LIMITS:
        chosen = np.flatnonzero((sizes > low) & (sizes <= high))
        low = high
        per_batch = max(1, _BLOCK_ROWS // high)
        for b in range(0, chosen.shape[0], per_batch):
            pick = chosen[b:b + per_batch]
            sz = sizes[pick]
            k = sz.shape[0]
            offsets = np.concatenate(([0], np.cumsum(sz)[:-1]))
            slot = np.arange(int(sz.sum())) - np.repeat(offsets, sz)
            rows = order[np.repeat(starts[pick], sz) + slot]
            padded = np.zeros((k, int(sz.max()), width), dtype=np.float32)
            padded[np.repeat(np.arange(k), sz), slot] = _design(y[rows])
            out[groups[pick]] = np.matmul(padded.transpose(0, 2, 1), padded)
    return np.rint(out).astype(np.int64)


def reduce_rows(keys: Sequence[Hashable] | np.ndarray, scores: Any) -> dict[Any, StratumStats]:
    """Statistics per key of raw score rows, vectorised (no Python loop per row).

    ``keys`` has one entry per row (ints or strings; use integer ids for composite keys),
    ``scores`` is (n, J) with 0 for a blank answer. The dict is ordered by sorted key.
    """
    y = _check_scores(scores)
    key_array = np.asarray(keys)
    if key_array.ndim != 1 or key_array.shape[0] != y.shape[0]:
        raise ValueError("keys must have one entry per score row")
    unique, inverse = np.unique(key_array, return_inverse=True)
    return _stats_by_group(unique.tolist(), inverse.ravel(), y)


def _stats_by_group(labels: list[Any], ids: np.ndarray, y: np.ndarray) -> dict[Any, StratumStats]:
    grams = _grouped_grams(ids, len(labels), y)
    counts = np.bincount(ids, minlength=len(labels))
    return dict(zip(labels, _from_grams(counts, grams, y.shape[1]), strict=True))


def _from_grams(counts: np.ndarray, grams: np.ndarray, n_elements: int) -> list[StratumStats]:
    j = n_elements
    cnt = grams[:, j:, j:].copy()
    sy = grams[:, :j, j:].copy()
    syy = grams[:, :j, :j].copy()
    return [_trusted(n, cnt[g], sy[g], syy[g]) for g, n in enumerate(counts.tolist())]


class GramAccumulator:
    """Streaming reducer: add blocks of (group id, scores) and read the statistics at the
    end. Used by the CSV reader so a million rows never sit in memory at once."""

    def __init__(self, n_elements: int) -> None:
        self.n_elements = n_elements
        width = 2 * n_elements
        self._grams = np.zeros((0, width, width), dtype=np.int64)
        self._counts = np.zeros(0, dtype=np.int64)

    def add(self, ids: np.ndarray, scores: np.ndarray) -> None:
        y = _check_scores(scores)
        if y.shape[1] != self.n_elements:
            raise ValueError("wrong number of elements")
        if y.shape[0] == 0:
            return
        n_groups = int(ids.max()) + 1
        if n_groups > self._counts.shape[0]:
            grow = n_groups - self._counts.shape[0]
            width = 2 * self.n_elements
            self._grams = np.concatenate(
                [self._grams, np.zeros((grow, width, width), dtype=np.int64)])
            self._counts = np.concatenate([self._counts, np.zeros(grow, dtype=np.int64)])
        present, local = np.unique(ids, return_inverse=True)
        local = local.ravel()
        self._grams[present] += _grouped_grams(local, present.shape[0], y)
        self._counts[present] += np.bincount(local, minlength=present.shape[0])

    def result(self, n_groups: int) -> list[StratumStats]:
        """Statistics of groups 0..n_groups-1 (a group never seen is empty)."""
        seen = min(n_groups, self._counts.shape[0])
        out = _from_grams(self._counts[:seen], self._grams[:seen], self.n_elements)
        out.extend(StratumStats.zeros(self.n_elements) for _ in range(n_groups - seen))
        return out


def _from_flat_rows(n_elements: int, rows: np.ndarray) -> list[StratumStats]:
    j = n_elements
    tri = j * (j + 1) // 2
    iu = np.triu_indices(j)
    m = rows.shape[0]
    cnt = np.zeros((m, j, j), dtype=np.int64)
    cnt[:, iu[0], iu[1]] = rows[:, 1:1 + tri]
    cnt[:, iu[1], iu[0]] = rows[:, 1:1 + tri]
    sy = rows[:, 1 + tri:1 + tri + j * j].reshape(m, j, j).copy()
    syy = np.zeros((m, j, j), dtype=np.int64)
    syy[:, iu[0], iu[1]] = rows[:, 1 + tri + j * j:]
    syy[:, iu[1], iu[0]] = rows[:, 1 + tri + j * j:]
    _check_consistent(rows[:, 0], cnt, sy, syy)
    return [_trusted(n, cnt[i], sy[i], syy[i]) for i, n in enumerate(rows[:, 0].tolist())]


def reduce_flat(keys: Sequence[Hashable] | np.ndarray, rows: Any,
                n_elements: int) -> dict[Any, StratumStats]:
    """Sum flat rollup rows per key (e.g. per-desk-per-day rows into per-desk statistics),
    vectorised; the dict is ordered by sorted key."""
    flat = np.asarray(rows, dtype=np.int64)
    if flat.ndim != 2 or flat.shape[1] != flat_length(n_elements):
        raise ValueError(
            f"rows must be (m, {flat_length(n_elements)}) for {n_elements} elements"
        )
    key_array = np.asarray(keys)
    if key_array.ndim != 1 or key_array.shape[0] != flat.shape[0]:
        raise ValueError("keys must have one entry per row")
    if flat.shape[0] == 0:
        return {}
    unique, inverse = np.unique(key_array, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    sorted_inv = inverse[order]
    starts = np.concatenate(([0], np.flatnonzero(sorted_inv[1:] != sorted_inv[:-1]) + 1))
    sums = np.add.reduceat(flat[order], starts, axis=0)
    return dict(zip(unique.tolist(), _from_flat_rows(n_elements, sums), strict=True))
