"""Plain inputs of evaluation and profiling, checked and brought to one shape.

Everything downstream (scorecard, profiles, report) takes the same plain inputs:

* ``features``: a DataFrame indexed by ``customer_id``, one row per customer;
* ``labels``: a Series of segment labels indexed by ``customer_id`` (a *partition*),
  or a boolean DataFrame with one column per audience (*overlapping* audiences);
* ``catalog``: optional, ``feature -> (family, kind, description)`` (a tuple, a dict,
  an object with those attributes, or a DataFrame indexed by feature).

:func:`prepare` aligns them and answers with a :class:`Segmented`.

Examples
--------
>>> import pandas as pd
>>> f = pd.DataFrame({"frequency": [1, 5, 2, 7], "region": ["N", "S", "N", "S"]},
...                  index=pd.Index(["a", "b", "c", "d"], name="customer_id"))
>>> s = prepare(f, pd.Series([1, 2, 1, None], index=["a", "b", "c", "d"]))
>>> s.segments, s.unassigned, s.kinds
(['1', '2'], 1, {'frequency': 'numeric', 'region': 'categorical'})
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from segmint._nan import nanmean, nanmedian, nanstd  # noqa: F401
import pandas as pd

from segmint.errors import DataError, examples

#: Catalog kinds that mean "a category, not a number".
CATEGORICAL_KINDS = {"categorical", "category", "nominal", "string", "text", "label"}
#: Family guessed from a feature's name when no catalog says it, first match wins.
FAMILY_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"^category_share_", "category mix"),
    (r"^channel_share_", "channel mix"),
    (r"^(recency|frequency|monetary|tenure|orders_last|[rfm]_score)", "rfm"),
    (r"^(promo|return)_share", "promotion and returns"),
    (r"^(email|web|app|support)_", "engagement"),
    (r"^(age|gender|region|city|country)$", "demographic"),
    (r"consent", "consent"),
    (r"^(probability_alive|predicted_|expected_|clv)", "prediction"),
)


@dataclass(frozen=True)
class CatalogEntry:
    """What the catalog says about one feature."""

    family: str
    kind: str
    description: str = ""


@dataclass
class Segmented:
    """Features and segment memberships, aligned on the same customers."""

    features: pd.DataFrame
    members: pd.DataFrame  # bool, customers x segments
    labels: pd.Series | None  # str labels when the segments are a partition
    segments: list[str]
    kinds: dict[str, str]  # feature -> numeric | categorical
    catalog: dict[str, CatalogEntry]
    unassigned: int
    #: Results derived from these exact inputs (ranks per column, effect sizes), kept so the scorecard and
    #: the profile of the same prepared segmentation compute them once.
    cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def overlapping(self) -> bool:
        return self.labels is None

    def codes(self) -> np.ndarray:
        """Each customer's segment as its position in :attr:`segments` (partitions only), kept.

        Group-bys over a million customers then cost one ``np.bincount`` per column instead of a
        boolean mask (and a copy of the rows) per segment.
        """
        if self.overlapping:
            raise ValueError("codes need one segment per customer; these audiences overlap")
        if "codes" not in self.cache:
            self.cache["codes"] = np.argmax(self.members.to_numpy(bool), axis=1).astype(np.intp)
        return self.cache["codes"]

    def segment_sums(self, weights: np.ndarray | None = None, rows: np.ndarray | None = None) -> np.ndarray:
        """Per segment, in :attr:`segments` order: its customers, or the sum of ``weights`` over them.

        ``rows``, a boolean mask over the customers, keeps some of them; ``weights`` then holds
        their values only. A partition takes one ``np.bincount`` for every segment (see
        :meth:`codes`); overlapping audiences a mask each.
        """
        if self.overlapping:
            masks = [self.members[s].to_numpy(bool) for s in self.segments]
            if rows is not None:
                masks = [m[rows] for m in masks]
            return np.array([m.sum() if weights is None else weights[m].sum() for m in masks], float)
        codes = self.codes() if rows is None else self.codes()[rows]
        return np.bincount(codes, weights, minlength=len(self.segments)).astype(float)

    def crosstab(self, codes: np.ndarray, n_codes: int) -> np.ndarray:
        """Customers per segment (rows, in :attr:`segments` order) and value code (columns ``0..n_codes-1``)."""
        if self.overlapping:
            return np.vstack([np.bincount(codes[self.members[s].to_numpy(bool)], minlength=n_codes)
                              for s in self.segments])
        k = len(self.segments)
        return np.bincount(self.codes() * n_codes + codes, minlength=k * n_codes).reshape(k, n_codes)

    def over(self, frame: pd.DataFrame) -> Segmented:
        """The same customers and segments over other numeric columns (``frame``: these rows, in this order).

        Skips :func:`prepare`'s alignment and label factorisation (a second at a million customers),
        e.g. to test one converted column.
        """
        kinds = {str(c): "numeric" for c in frame.columns}
        catalog = {c: self.catalog.get(c) or CatalogEntry(guess_family(c), "numeric") for c in kinds}
        out = Segmented(frame, self.members, self.labels, self.segments, kinds, catalog, self.unassigned)
        if "codes" in self.cache:
            out.cache["codes"] = self.cache["codes"]
        return out

    def numeric(self) -> list[str]:
        return [c for c, k in self.kinds.items() if k == "numeric"]

    def categorical(self) -> list[str]:
        return [c for c, k in self.kinds.items() if k == "categorical"]


def normalize_catalog(catalog: Any, columns: list[str] | None = None) -> dict[str, CatalogEntry]:
    """Bring any accepted catalog shape to ``{feature: CatalogEntry}``; guess what is missing."""
    out: dict[str, CatalogEntry] = {}
    if isinstance(catalog, pd.DataFrame):
        frame = catalog.set_index("feature") if "feature" in catalog.columns else catalog
        catalog = {str(k): row.to_dict() for k, row in frame.iterrows()}
    for name, entry in dict(catalog or {}).items():
        if isinstance(entry, CatalogEntry):
            out[str(name)] = entry
        elif isinstance(entry, Mapping):
            out[str(name)] = CatalogEntry(str(entry.get("family") or guess_family(name)),
                                          str(entry.get("kind") or ""), str(entry.get("description") or ""))
        elif isinstance(entry, (tuple, list)):
            parts = [*entry, "", "", ""][:3]
            out[str(name)] = CatalogEntry(str(parts[0] or guess_family(name)), str(parts[1]), str(parts[2]))
        else:
            out[str(name)] = CatalogEntry(str(getattr(entry, "family", "") or guess_family(name)),
                                          str(getattr(entry, "kind", "")), str(getattr(entry, "description", "")))
    for col in columns or []:
        out.setdefault(col, CatalogEntry(guess_family(col), "", ""))
    return out


def guess_family(name: str) -> str:
    """The family of a feature from its name (``"other"`` when nothing matches).

    >>> guess_family("category_share_books"), guess_family("age"), guess_family("xyz")
    ('category mix', 'demographic', 'other')
    """
    for pattern, family in FAMILY_PATTERNS:
        if re.search(pattern, str(name)):
            return family
    return "other"


def feature_kinds(features: pd.DataFrame, catalog: Mapping[str, CatalogEntry]) -> dict[str, str]:
    """``numeric`` or ``categorical`` per usable column (all-empty columns are left out)."""
    kinds = {}
    for col in features.columns:
        values = features[col]
        if values.notna().sum() == 0:
            continue
        declared = catalog.get(col).kind.lower() if col in catalog else ""
        if pd.api.types.is_datetime64_any_dtype(values):
            # A timestamp is neither a number to average nor a category (nearly every value is its own);
            # the day counts derived from it (recency_days, tenure_days) are what segments differ on.
            continue
        if declared in CATEGORICAL_KINDS:
            kinds[col] = "categorical"
        elif pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            kinds[col] = "numeric"  # booleans are 0/1: their mean is a share
        elif values.dtype == object and values.dropna().map(lambda v: isinstance(v, bool)).all():
            kinds[col] = "numeric"
        else:
            kinds[col] = "categorical"
    return kinds


def as_float(values: pd.Series) -> np.ndarray:
    """A numeric or boolean column as floats (missing as NaN)."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        try:  # the fast path: plain numpy numbers and booleans
            return values.to_numpy(dtype=float, na_value=np.nan)
        except (TypeError, ValueError):
            pass
    return pd.to_numeric(values.astype("object").where(values.notna(), np.nan), errors="coerce").to_numpy(float)


def prepare(features: pd.DataFrame, labels: pd.Series | pd.DataFrame, catalog: Any = None) -> Segmented:
    """Align ``features`` and ``labels`` on customer ids; check both.

    Customers without a label (NaN) are left out and counted in ``unassigned``.
    Raises :class:`~segmint.errors.DataError` when nothing lines up.
    """
    if not isinstance(features, pd.DataFrame):
        raise DataError(f"features must be a pandas DataFrame indexed by customer_id, not {type(features).__name__}")
    if has_duplicates(features.index):
        dup = features.index[features.index.duplicated()].unique()
        raise DataError(f"features: {len(dup)} customer ids appear more than once ({examples(dup)}); "
                        "give one row per customer")
    if isinstance(labels, pd.DataFrame):
        members = labels.fillna(False).astype(bool)
        members.columns = [str(c) for c in members.columns]
        part = None
        unassigned = 0
    elif isinstance(labels, pd.Series):
        unassigned = int(labels.isna().sum())
        lab = labels.dropna() if unassigned else labels
        if pd.api.types.is_float_dtype(lab) and np.all(np.mod(lab.to_numpy(float), 1) == 0):
            lab = lab.astype("int64")  # cluster numbers read 3, not 3.0 (a NaN made them floats)
        if isinstance(lab.dtype, pd.CategoricalDtype):
            order = [str(c) for c in lab.cat.categories if (lab == c).any()]
        else:
            order = sorted({str(v) for v in pd.unique(lab)}, key=_natural_key)
        part = lab.astype(str)
        # one factorisation instead of one text comparison per segment (seconds at a million customers)
        found, uniques = pd.factorize(part)
        position = {u: i for i, u in enumerate(order)}
        seg_of = np.asarray([position[str(u)] for u in uniques], dtype=np.intp)[found]
        members = pd.DataFrame(seg_of[:, None] == np.arange(len(order)), index=part.index, columns=order)
    else:
        raise DataError(f"labels must be a pandas Series (one label per customer) or a boolean DataFrame "
                        f"(one column per audience), not {type(labels).__name__}")
    if members.index is not features.index and has_duplicates(members.index):
        raise DataError("labels: some customer ids appear more than once; give one label per customer")
    # Every customer of the features labelled (a stored run of the same snapshot): keep the features as
    # they are and bring the labels to their order. Copying the features (``features.loc[common]``) took
    # GBs at a million customers; the result is the same rows in the same order.
    same = members.index.equals(features.index)
    at = None if same else members.index.get_indexer(features.index)
    if len(features) and (same or (at >= 0).all()):
        feats = features
        n_missing = len(members) - len(features)
        if not same:
            members = members.take(at)
            part = None if part is None else part.take(at)
    else:
        common = features.index.intersection(members.index)
        if len(common) == 0:
            raise DataError(f"no customer id is in both features ({examples(features.index)}) and labels "
                            f"({examples(members.index)}); are both indexed by customer_id?")
        n_missing = len(members.index.difference(features.index))
        feats = features.loc[common]
        members = members.loc[common]
        part = None if part is None else part.loc[common]
    members = members.loc[:, members.any(axis=0)]
    if members.shape[1] == 0:
        raise DataError("labels: no customer belongs to any segment")
    cat = normalize_catalog(catalog, list(feats.columns))
    seg = Segmented(feats, members, part, list(members.columns), feature_kinds(feats, cat), cat, unassigned)
    seg.missing_features = n_missing  # type: ignore[attr-defined]
    return seg


def has_duplicates(index: pd.Index) -> bool:
    """Whether an id appears twice in ``index``.

    Ids stored as Arrow strings are counted by Arrow: pandas would first turn them into a million Python
    strings and a hash table, and keep both with the index. An index is immutable, so the answer is
    remembered for as long as the index object lives: validate, profile and report of every
    segmentation ask it of the same million-id index of the kept snapshot (19 counts, 2 s, at 1M).

    >>> has_duplicates(pd.Index(["a", "b", "a"], dtype="str")), has_duplicates(pd.Index([1, 2]))
    (True, False)
    """
    known = _DUPLICATES.get(id(index))
    if known is not None and known[0]() is index:
        return known[1]
    if isinstance(index.array, pd.arrays.ArrowStringArray):
        import pyarrow as pa
        import pyarrow.compute as pc

        answer = pc.count_distinct(pa.array(index.array), mode="all").as_py() < len(index)
    else:
        answer = bool(index.has_duplicates)
    if len(index) >= _REMEMBER_FROM:
        key = id(index)
        # the entry goes with the index (ids are reused once an object is freed)
        _DUPLICATES[key] = (weakref.ref(index, lambda _, key=key: _DUPLICATES.pop(key, None)), answer)
    return answer


#: Indexes at least this long have their answer remembered (small ones are cheaper to count again).
_REMEMBER_FROM = 10_000
#: id(index) -> (weak reference to the index, whether it has duplicates)
_DUPLICATES: dict[int, tuple[weakref.ref, bool]] = {}


def _natural_key(s: str) -> tuple:
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t.lower()) for t in re.split(r"(\d+)", s) if t)


def standardized(seg: Segmented, rows: np.ndarray | None = None, clip: float = 5.0,
                 reference: Segmented | None = None) -> tuple[np.ndarray, list[str]]:
    """The numeric features as a standardised matrix (median-filled, clipped at ``clip`` sd).

    Clipping keeps a few extreme spenders from dominating distances. Medians, means and
    spreads come from every customer of ``reference`` (default: ``seg``; a stratified sample
    of it spares stacking every column of a million customers).
    """
    names = [c for c in seg.numeric()]
    frame = seg.features if rows is None else seg.features.iloc[rows]
    X = np.column_stack([as_float(frame[c]) for c in names]) if names else np.empty((len(frame), 0))
    ref = (seg if reference is None else reference).features
    full = np.column_stack([as_float(ref[c]) for c in names]) if names else X
    med = nanmedian(full, axis=0) if names else np.empty(0)
    sd = nanstd(full, axis=0) if names else np.empty(0)
    keep = np.isfinite(sd) & (sd > 0)
    X = np.where(np.isnan(X), med, X)[:, keep]
    mean = nanmean(full, axis=0)[keep]
    Z = np.clip((X - mean) / sd[keep], -clip, clip)
    return Z, [n for n, k in zip(names, keep) if k]


def stratified_rows(labels: np.ndarray, max_rows: int, min_per_segment: int = 100,
                    random_state: int = 0) -> np.ndarray:
    """Row positions of a sample of at most about ``max_rows``, keeping small segments visible.

    >>> labels = np.array(["a"] * 990 + ["b"] * 10)
    >>> rows = stratified_rows(labels, max_rows=100, min_per_segment=20)
    >>> len(rows), int((labels[rows] == "b").sum())
    (100, 10)
    """
    n = len(labels)
    if n <= max_rows:
        return np.arange(n)
    rng = np.random.default_rng(random_state)
    segs = list(pd.unique(labels))
    pos = {s: np.flatnonzero(labels == s) for s in segs}
    mins = {s: min(len(p), min_per_segment) for s, p in pos.items()}
    quota = {s: max(max_rows * len(p) / n, mins[s]) for s, p in pos.items()}
    extra = sum(quota.values()) - sum(mins.values())
    if sum(quota.values()) > max_rows and extra > 0:
        # Small segments keep their minimum; the large ones give up rows in proportion.
        factor = max(max_rows - sum(mins.values()), 0) / extra
        quota = {s: mins[s] + (quota[s] - mins[s]) * factor for s in segs}
    out = [rng.choice(pos[s], size=min(round(quota[s]), len(pos[s])), replace=False) for s in segs]
    rows = np.sort(np.concatenate(out))
    return rows
