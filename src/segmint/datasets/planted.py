"""Planted-cluster data sets with a known number of groups, for judging how ``k`` is chosen.

:func:`make_planted` draws one table of numeric features whose rows belong to ``k``
planted groups, in one of five designs:

``balanced``
    Spherical Gaussian groups of equal expected size.
``imbalanced``
    Spherical Gaussian groups whose shares fall geometrically down to 3 % for the
    smallest (the largest is then 30-97 % of the rows).
``noise``
    Balanced groups in all but 1-2 features (at least 2 informative); those are pure
    Gaussian noise with the spread of a group (they carry no group information, but once
    scaled they weigh as much as any feature and blur every distance).
``anisotropic``
    Gaussian groups each with its own random covariance (axis ratios up to 4:1, rotated).
``lognormal``
    Positive, right-skewed features: ``exp`` of Gaussian groups, of unequal shares, as
    amounts and counts are in a shop. A clustering that does not log-transform skewed
    features sees a long tail, not groups.

Centres are drawn at random with every pair at least ``separation`` group standard
deviations apart (in the space before ``exp`` for ``lognormal``; along the direction
between the two centres for ``anisotropic``), so every group is findable but not
trivially: at the default separations of :func:`benchmark_suite` k-means at the true
``k`` recovers the groups with an adjusted Rand index of about 0.9 to 1.

:func:`benchmark_suite` lists the specifications of the planted benchmark (five designs,
``k`` from 2 to 8, 2,000 to 50,000 rows, 3 to 8 features, one seed each), and
:func:`make_from_spec` builds one of them. Everything derives from the seed.

Examples
--------
>>> data = make_planted("imbalanced", k=3, n=2_000, d=4, seed=1)
>>> data.X.shape, data.k, len(set(data.labels))
((2000, 4), 3, 3)
>>> round(float(data.shares.min()), 2)
0.03
>>> len(benchmark_suite()), sorted({s.design for s in benchmark_suite()})[:2]
(70, ['anisotropic', 'balanced'])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DESIGNS = ("balanced", "imbalanced", "noise", "anisotropic", "lognormal")
#: Share of the smallest group in the ``imbalanced`` design.
SMALLEST_SHARE = 0.03


@dataclass(frozen=True)
class PlantedSpec:
    """One data set of the planted benchmark: design, number of groups, rows, features, seed, separation."""

    design: str
    k: int
    n: int
    d: int
    seed: int
    separation: float = 6.0

    @property
    def name(self) -> str:
        return f"{self.design}-k{self.k}-n{self.n}-d{self.d}-s{self.seed}"


@dataclass
class PlantedData:
    """A planted data set: the features, the planted group of every row and the group shares."""

    X: pd.DataFrame
    labels: np.ndarray
    shares: np.ndarray
    spec: PlantedSpec

    @property
    def k(self) -> int:
        return self.spec.k


def _centres(rng: np.random.Generator, k: int, d: int, separation: float, spread: np.ndarray | None = None,
             covs: list[np.ndarray] | None = None) -> np.ndarray:
    """``k`` random centres in ``d`` dimensions, every pair at least ``separation`` group sds apart.

    Drawn one by one in a box that grows until the next centre fits. With ``covs``, the distance
    between two centres is measured along their direction, in the larger of the two groups' sds
    along it (so elongated groups do not touch).
    """
    centres: list[np.ndarray] = []
    box = separation * max(1.0, k ** (1.0 / d))
    while len(centres) < k:
        for _ in range(200):
            c = rng.uniform(-box, box, size=d)
            ok = True
            for j, other in enumerate(centres):
                diff = c - other
                dist = float(np.linalg.norm(diff))
                if covs is None:
                    need = separation
                else:
                    u = diff / max(dist, 1e-12)
                    i = len(centres)
                    sd = max(float(np.sqrt(u @ covs[i] @ u)), float(np.sqrt(u @ covs[j] @ u)))
                    need = separation * sd
                if dist < need:
                    ok = False
                    break
            if ok:
                centres.append(c)
                break
        else:
            box *= 1.2
    return np.array(centres)


def _shares(design: str, k: int, rng: np.random.Generator) -> np.ndarray:
    if design in ("balanced", "noise", "anisotropic"):
        return np.full(k, 1.0 / k)
    if design == "imbalanced":
        # Geometric shares 0.03 * r**i, i = 0..k-1, with r >= 1 set so that they sum to one.
        lo, hi = 1.0, 1.0 / SMALLEST_SHARE
        for _ in range(100):
            r = (lo + hi) / 2
            total = SMALLEST_SHARE * np.sum(r ** np.arange(k))
            lo, hi = (lo, r) if total > 1 else (r, hi)
        s = SMALLEST_SHARE * r ** np.arange(k)
        return s[::-1] / s.sum()
    # lognormal: unequal shares from a Dirichlet, no group under 3 %
    s = rng.dirichlet(np.full(k, 2.0))
    s = np.maximum(s, SMALLEST_SHARE)
    return s / s.sum()


def make_planted(design: str, k: int, n: int, d: int, seed: int = 0, separation: float = 6.0,
                 shares: np.ndarray | None = None) -> PlantedData:
    """One planted data set (see the module notes for the designs).

    Parameters
    ----------
    design : {"balanced", "imbalanced", "noise", "anisotropic", "lognormal"}
    k : int
        Number of planted groups.
    n : int
        Rows.
    d : int
        Features (for ``noise``, informative plus noise features).
    seed : int
    separation : float
        Smallest distance between two centres, in group standard deviations.
    shares : array, optional
        Group shares (summing to one); default: the design's.

    Returns
    -------
    PlantedData
        Features ``f1``... as a DataFrame, the planted group (0..k-1) of every row, the shares.
    """
    if design not in DESIGNS:
        raise ValueError(f"unknown design {design!r}; one of {', '.join(DESIGNS)}")
    rng = np.random.default_rng(seed)
    spec = PlantedSpec(design, int(k), int(n), int(d), int(seed), float(separation))
    p = np.asarray(shares, dtype=float) if shares is not None else _shares(design, k, rng)
    p = p / p.sum()
    # Exact group sizes (largest remainder), shuffled: the shares are the planted truth.
    sizes = np.floor(p * n).astype(int)
    sizes[np.argsort(-(p * n - sizes))[: n - sizes.sum()]] += 1
    labels = rng.permutation(np.repeat(np.arange(k), sizes))
    informative = d
    if design == "noise":
        informative = max(2, d - int(rng.integers(1, 3)))
    covs = None
    if design == "anisotropic":
        covs = []
        for _ in range(k):
            q, _r = np.linalg.qr(rng.normal(size=(informative, informative)))
            sd = rng.uniform(0.5, 2.0, size=informative)
            sd[0] = sd.min() * rng.uniform(2.0, 4.0)  # one long axis
            covs.append(q @ np.diag(sd**2) @ q.T)
    centres = _centres(rng, k, informative, separation, covs=covs)
    Z = rng.normal(size=(n, informative))
    if covs is not None:
        chol = [np.linalg.cholesky(c) for c in covs]
        for g in range(k):
            rows = labels == g
            Z[rows] = Z[rows] @ chol[g].T
    Z += centres[labels]
    if design == "noise":
        Z = np.hstack([Z, rng.normal(0.0, 1.0, size=(n, d - informative))])
    if design == "lognormal":
        # exp of the groups on a log scale (group sd 0.35 there): amounts with a long right tail
        scale = 0.35
        Z = np.exp(5.0 + scale * (Z - Z.mean(axis=0)))
    else:
        # arbitrary units and offsets per feature, as real features have
        Z = Z * rng.uniform(0.5, 20.0, size=Z.shape[1]) + rng.uniform(-50, 50, size=Z.shape[1])
    X = pd.DataFrame(Z, columns=[f"f{i + 1}" for i in range(Z.shape[1])])
    return PlantedData(X=X, labels=labels, shares=p, spec=spec)


def make_from_spec(spec: PlantedSpec) -> PlantedData:
    """The data set a :class:`PlantedSpec` describes."""
    return make_planted(spec.design, spec.k, spec.n, spec.d, spec.seed, spec.separation)


def benchmark_suite(per_design: int = 14, seed: int = 0) -> list[PlantedSpec]:
    """The planted benchmark: ``per_design`` data sets of each design (70 by default).

    ``k`` cycles through 2..8 (each twice per design by default), rows are log-uniform in
    2,000-50,000, features uniform in 3-8, separation uniform in 5-8 group sds; every data
    set has its own seed.

    Examples
    --------
    >>> specs = benchmark_suite(per_design=2)
    >>> [s.k for s in specs][:4], all(2_000 <= s.n <= 50_000 for s in specs)
    ([2, 3, 2, 3], True)
    """
    rng = np.random.default_rng(seed)
    specs = []
    for design in DESIGNS:
        for i in range(per_design):
            k = 2 + i % 7
            n = int(round(float(np.exp(rng.uniform(np.log(2_000), np.log(50_000)))), -2))
            d = int(rng.integers(3, 9))
            sep = round(float(rng.uniform(5.0, 8.0)), 1)
            specs.append(PlantedSpec(design, k, n, d, int(rng.integers(0, 2**31 - 1)), sep))
    return specs
