"""Vectorised sampling and sorting helpers shared by the shop simulator.

Examples
--------
>>> rows = dirichlet_rows(np.random.default_rng(0), np.array([[0.5, 0.5]]), 10.0)
>>> rows.shape, bool(np.isclose(rows.sum(), 1.0))
((1, 2), True)
"""

from __future__ import annotations

import numpy as np


def categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """Draw one category per row of a (rows, k) probability matrix.

    Examples
    --------
    >>> categorical(np.random.default_rng(0), np.array([[0.0, 1.0], [1.0, 0.0]])).tolist()
    [1, 0]
    """
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cum[:, -1]
    return np.minimum((u[:, None] >= cum).sum(axis=1), probs.shape[1] - 1)


def categorical_by_group(rng: np.random.Generator, probs: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Draw one category per row of ``group``, from the probability row ``probs[group]``.

    Same result as ``categorical(rng, probs[group])`` for the same uniforms, without
    materialising a (rows, k) matrix: the per-group cumulative probabilities are laid end
    to end as ``g + cum[g, j]`` and each draw ``g + u`` is located with one binary search.

    Examples
    --------
    >>> probs = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> categorical_by_group(np.random.default_rng(0), probs, np.array([1, 0, 1])).tolist()
    [1, 0, 1]
    """
    n, k = probs.shape
    cum = np.cumsum(probs, axis=1, dtype=np.float64)
    cum /= cum[:, -1:]
    flat = (np.arange(n, dtype=np.float64)[:, None] + cum).ravel()
    u = rng.random(len(group))
    found = np.searchsorted(flat, group + u, side="right") - np.asarray(group) * k
    return np.clip(found, 0, k - 1)


def dirichlet_rows(rng: np.random.Generator, mean: np.ndarray, concentration: float) -> np.ndarray:
    """Per-row mixes scattered around ``mean`` rows (a Dirichlet drawn through gammas)."""
    g = rng.gamma(np.maximum(mean * concentration, 1e-3)).astype(np.float32)
    return g / g.sum(axis=1, keepdims=True)


def group_sort(group: np.ndarray, when: np.ndarray) -> np.ndarray:
    """Permutation that sorts rows by group then time (ties keep their order).

    Packs group, time and row number into one int64 and sorts that: NumPy's SIMD sort of
    plain integers is several times faster than ``argsort`` or ``lexsort`` (the simulator
    keeps chunks small enough for this).  Falls back to a stable ``argsort`` of group and
    time, then to ``lexsort``, when they do not fit in 63 bits.

    Examples
    --------
    >>> group_sort(np.array([1, 0, 1, 0]), np.array([5, 9, 2, 3])).tolist()
    [3, 1, 2, 0]
    """
    n = len(group)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    when = np.asarray(when, dtype=np.int64)
    lo = int(when.min())
    bits = [int(group.max()).bit_length(), int(when.max() - lo).bit_length(), (n - 1).bit_length()]
    if sum(bits) > 63:
        if bits[0] + bits[1] <= 63:
            return np.argsort((np.asarray(group, dtype=np.int64) << bits[1]) | (when - lo), kind="stable")
        return np.lexsort((when, group))
    key = (np.asarray(group, dtype=np.int64) << (bits[1] + bits[2])) | ((when - lo) << bits[2]) | np.arange(n)
    key.sort()
    return key & ((1 << bits[2]) - 1)
