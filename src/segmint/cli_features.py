"""``segmint features``: compute and store a feature snapshot, or list the feature catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from segmint import console
from segmint.cli import JsonOpt, WorkspaceOpt, app, open_workspace

#: Features whose distribution the summary shows, when present.
SUMMARY_FEATURES = ("recency_days", "frequency", "monetary_total", "tenure_days", "email_open_rate",
                    "probability_alive", "predicted_clv_12m")


@app.command()
def features(
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Date (YYYY-MM-DD); default: the day after the "
                                        "last order."),
    workspace: Optional[Path] = WorkspaceOpt,
    list_: bool = typer.Option(False, "--list", help="Print the feature catalog instead of computing."),
    as_json: bool = JsonOpt,
) -> None:
    """Compute customer features as of a date and store them as a snapshot."""
    if list_:
        _print_catalog(as_json)
        return
    from segmint.features.snapshot import load_features, snapshot

    with open_workspace(workspace) as ws:
        with console.status("Computing features..."):
            info = snapshot(ws.store, as_of, ws.config.features)
            info["distributions"] = distributions(load_features(ws.store, info["as_of"]))
    if as_json:
        console.print_json(info)
        return
    _print_summary(info)


def distributions(table) -> dict[str, dict[str, Any]]:
    """Count, nulls, mean and quartiles of a few headline features, computed in the engine."""
    names = [c for c in SUMMARY_FEATURES if c in table.columns]
    aggs = {}
    for c in names:
        col = table[c].cast("float64")
        aggs.update({f"{c}__n": col.count(), f"{c}__mean": col.mean(), f"{c}__min": col.min(),
                     f"{c}__p25": col.quantile(0.25), f"{c}__p50": col.quantile(0.5),
                     f"{c}__p75": col.quantile(0.75), f"{c}__max": col.max()})
    if not aggs:
        return {}
    row = table.aggregate(**aggs).to_pyarrow().to_pylist()[0]
    return {c: {stat: row[f"{c}__{stat}"] for stat in ("n", "mean", "min", "p25", "p50", "p75", "max")}
            for c in names}


def _num(v: Any) -> str:
    if v is None:
        return ""
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"


def _print_summary(info: dict[str, Any]) -> None:
    console.out.print(f"Features as of {info['as_of']}: {console.fmt_int(info['customers'])} customers, "
                      f"{len(info['features'])} features ({info['seconds']:.1f} s). Stored in the features table.")
    rows = [[name, console.fmt_int(d["n"]), _num(d["mean"]), _num(d["min"]), _num(d["p25"]), _num(d["p50"]),
             _num(d["p75"]), _num(d["max"])] for name, d in info["distributions"].items()]
    cols = ["feature", "values", "mean", "min", "25%", "median", "75%", "max"]
    console.out.print(console.table("Distributions", cols, rows, {c: "right" for c in cols[1:]}))
    for what, why in info["skipped"].items():
        console.out.print(f"Left out {what}: {why}")


def _print_catalog(as_json: bool) -> None:
    from segmint.features.catalog import ATTRIBUTE, CATALOG, FAMILIES, PATTERNS

    entries = sorted(list(CATALOG.values()) + PATTERNS + [ATTRIBUTE], key=lambda f: FAMILIES.index(f.family))
    if as_json:
        console.print_json({"features": [{"name": f.name, "family": f.family, "type": f.type, "kind": f.kind,
                                          "unit": f.unit, "description": f.description, "pattern": f.pattern}
                                         for f in entries]})
        return
    rows = [[f.name, f.family, f.type, f.kind, f.unit, f.description] for f in entries]
    console.out.print(console.table("Feature catalog (docs/features.md)",
                                    ["feature", "family", "type", "kind", "unit", "description"], rows))
