"""Engine assignment (Ibis on DuckDB) must equal ClusterSegmenter.predict row for row."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.datasets import make_blobs

from segmint.errors import UnknownNameError
from segmint.segment.assign import assign_expression
from segmint.segment.cluster import ClusterSegmenter

FEATURES = {
    "spend": "numeric",
    "visits": "numeric",
    "balance": "numeric",
    "vip": "boolean",
    "region": "categorical",
}


def _customers(n: int, seed: int) -> pd.DataFrame:
    X, group = make_blobs(n_samples=n, centers=3, n_features=3, cluster_std=0.7, random_state=seed)
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "spend": np.exp(X[:, 0] / 3 + 3),  # skewed amount: log-transformed
            "visits": np.round(np.abs(X[:, 1]) * 3),
            "balance": X[:, 2],
            "vip": np.where(group == 0, rng.random(n) < 0.7, rng.random(n) < 0.1),
            "region": np.where(group == 1, "north", rng.choice(["south", "east", "west"], n)),
        }
    )


def _with_gaps(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Nulls in every column, unseen categories, values beyond the clip bounds."""
    rng = np.random.default_rng(seed)
    out = df.astype({"vip": object, "region": object}).copy()
    for col in out.columns:
        out.loc[rng.random(len(out)) < 0.1, col] = None
    out.loc[rng.random(len(out)) < 0.05, "region"] = "atlantis"
    out.loc[out.index[:3], "spend"] = [1e9, 0.0, -5.0]
    return out


def _engine_labels(model, df: pd.DataFrame) -> list:
    t = ibis.memtable(pa.Table.from_pandas(df, preserve_index=False))
    expr = t.select(segment=assign_expression(model, t))
    return ibis.duckdb.connect().to_pyarrow(expr)["segment"].to_pylist()


@pytest.mark.parametrize("algorithm", ["kmeans", "gmm", pytest.param("hdbscan", marks=pytest.mark.slow)])
def test_engine_equals_predict(algorithm):
    train = _customers(400, seed=1)
    seg = ClusterSegmenter(
        FEATURES,
        algorithm=algorithm,
        k=3 if algorithm != "hdbscan" else "auto",
        n_bootstrap=0,
        min_cluster_size=40,
    ).fit(train)
    test = _with_gaps(_customers(500, seed=2), seed=3)
    expected = seg.predict(test).tolist()
    assert _engine_labels(seg, test) == expected
    assert _engine_labels(seg.to_dict(), test) == expected  # from the JSON document too
    assert len(set(expected)) >= 2


def test_boolean_and_categorical_encodings_in_engine():
    train = _customers(200, seed=4)
    seg = ClusterSegmenter(FEATURES, k=3, n_bootstrap=0).fit(train)
    test = train.head(40).assign(
        vip=np.where(np.arange(40) % 2 == 0, "yes", "no"), region=np.arange(40).astype(str)
    )
    assert _engine_labels(seg, test) == seg.predict(test).tolist()
    numeric_vip = train.head(40).assign(vip=(np.arange(40) % 3).astype(float))
    assert _engine_labels(seg, numeric_vip) == seg.predict(numeric_vip).tolist()


def test_expression_is_ibis_and_compiles():
    train = _customers(150, seed=5)
    seg = ClusterSegmenter(FEATURES, k=2, n_bootstrap=0).fit(train)
    t = ibis.table(
        {"spend": "float64", "visits": "int64", "balance": "float64", "vip": "boolean", "region": "string"},
        name="features",
    )
    expr = assign_expression(seg, t)
    assert expr.type().is_string()
    sql = ibis.to_sql(t.select(segment=expr), dialect="duckdb")
    assert "cluster_1" in sql and "LEAST(" in sql.upper()


def test_missing_column_names_alternatives():
    seg = ClusterSegmenter(FEATURES, k=2, n_bootstrap=0).fit(_customers(100, seed=6))
    t = ibis.table({"spend_total": "float64"}, name="features")
    with pytest.raises(UnknownNameError, match="spend"):
        assign_expression(seg, t)
