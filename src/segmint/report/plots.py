"""Figures of the report, as Plotly figure dictionaries (JSON-ready, rendered offline).

Each builder takes plain inputs (profile tables, features and labels, a k-selection
table, a migration matrix) and returns ``{"data": [...], "layout": {...}}`` or None
when there is nothing to draw. Figures never show a segment whose figures the profile
suppressed, nor a migration flow of fewer than ``min_segment_size`` customers.

Examples
--------
>>> import pandas as pd
>>> fig = migration_sankey(pd.DataFrame({"A": [50, 3], "B": [20, 80]}, index=["A", "B"]), min_count=10)
>>> fig["data"][0]["type"], fig["data"][0]["link"]["value"]
('sankey', [50, 20, 80])
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from segmint.evaluate.inputs import Segmented, as_float, prepare, standardized
from segmint.evaluate.sampling import subset
from segmint.profile.profiles import Profile

#: A qualitative palette that stays readable for the common colour-vision deficiencies (Okabe-Ito + extras).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
           "#999999", "#882255", "#44AA99", "#117733")
FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12}
#: Columns shown as distributions when present.
DISTRIBUTION_COLUMNS = ("recency_days", "frequency", "monetary_total", "predicted_clv_12m")


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _layout(title: str, **kw: Any) -> dict[str, Any]:
    layout = {"title": {"text": title, "x": 0, "font": {"size": 14}}, "font": FONT, "template": "plotly_white",
              "margin": {"l": 60, "r": 20, "t": 40, "b": 50}, "paper_bgcolor": "white", "plot_bgcolor": "white"}
    layout.update(kw)
    return layout


def to_json(fig: dict[str, Any]) -> str:
    """JSON for a ``<script>`` block: NaN as null, and no ``</`` that could end the script early."""
    return json.dumps(_clean(fig), separators=(",", ":")).replace("</", "<\\/")


def _clean(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple, np.ndarray, pd.Index, pd.Series)):
        return [_clean(v) for v in list(o)]
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (float, np.floating)):
        return float(o) if np.isfinite(o) else None
    return o


def sizes_bar(profile: Profile, names: dict[str, str]) -> dict[str, Any] | None:
    """Share of customers and of revenue per segment, side by side."""
    s = profile.sizes[~profile.sizes.suppressed]
    if s.empty:
        return None
    y = [names.get(x, x) for x in s.segment]
    data = [{"type": "bar", "orientation": "h", "name": "customers", "y": y, "x": (100 * s["share"]).round(1),
             "marker": {"color": PALETTE[0]}, "hovertemplate": "%{y}: %{x:.1f}% of customers<extra></extra>"}]
    if "revenue_share" in s:
        data.append({"type": "bar", "orientation": "h", "name": "revenue", "y": y,
                     "x": (100 * s["revenue_share"]).round(1), "marker": {"color": PALETTE[1]},
                     "hovertemplate": "%{y}: %{x:.1f}% of revenue<extra></extra>"})
    return {"data": data, "layout": _layout("Share of customers and revenue (%)", barmode="group",
                                            height=max(260, 60 + 45 * len(s)),
                                            yaxis={"autorange": "reversed", "automargin": True},
                                            legend={"orientation": "h", "y": -0.15})}


def profile_heatmap(profile: Profile, names: dict[str, str], max_features: int = 24) -> dict[str, Any] | None:
    """Index (segment mean / population mean x 100) by segment x feature, coloured on a log scale."""
    table = profile.heatmap()
    if table.empty:
        return None
    # Keep the features that vary most between segments: they are the ones that tell segments apart.
    spread = np.log2(table.clip(lower=1) / 100).abs().max().sort_values(ascending=False)
    table = table[spread.index[:max_features]]
    z = np.log2(table.clip(lower=1, upper=10_000) / 100).clip(-2, 2)
    return {"data": [{
        "type": "heatmap", "z": z.to_numpy(), "x": list(table.columns), "y": [names.get(s, s) for s in table.index],
        "text": table.round(0).to_numpy(), "texttemplate": "%{text}", "zmin": -2, "zmax": 2, "zmid": 0,
        "colorscale": "RdBu", "reversescale": True,
        "colorbar": {"title": {"text": "index"}, "tickvals": [-2, -1, 0, 1, 2], "ticktext": ["25", "50", "100", "200", "400"]},
        "hovertemplate": "%{y}<br>%{x}: index %{text}<extra></extra>"}],
        "layout": _layout("Profile: index vs the whole base (100 = average)", height=max(320, 120 + 40 * len(table)),
                          xaxis={"tickangle": -40, "automargin": True}, yaxis={"automargin": True,
                                                                                 "autorange": "reversed"})}


def projection_scatter(features: pd.DataFrame | None, labels, names: dict[str, str], hidden: list[str],
                       projection: pd.DataFrame | None = None, sample: int = 3000,
                       random_state: int = 0, *, prepared: Segmented | None = None) -> dict[str, Any] | None:
    """Customers on two axes coloured by segment: ``projection`` (x, y columns) or PCA of a sample.

    ``prepared``: ``features`` and ``labels`` already aligned (:func:`~segmint.evaluate.inputs.prepare`), given instead.
    """
    seg = prepared if prepared is not None else prepare(features, labels)
    if seg.overlapping:
        return None
    rng = np.random.default_rng(random_state)
    n = len(seg.features)
    rows = np.sort(rng.choice(n, size=min(n, sample), replace=False))
    lab = seg.labels.to_numpy()[rows]
    if projection is not None:
        p = projection.reindex(seg.features.index[rows])
        xy = p.iloc[:, :2].to_numpy(float)
        axes = [str(c) for c in p.columns[:2]]
        title = "Customers on the segmentation's own axes"
    else:
        from sklearn.decomposition import PCA

        # standardised on the sampled customers themselves: the picture is of them, and standardising
        # on every customer stacked every numeric column of a million customers in memory
        X, _ = standardized(subset(seg, rows))
        if X.shape[1] < 2:
            return None
        pca = PCA(n_components=2, random_state=random_state).fit(X)
        xy = pca.transform(X)
        ev = pca.explained_variance_ratio_
        axes = [f"PC1 ({ev[0]:.0%} of variance)", f"PC2 ({ev[1]:.0%})"]
        title = f"Customers projected on two principal components ({len(rows):,} sampled)"
    data = []
    for i, s in enumerate(seg.segments):
        m = lab == s
        if s in hidden or not m.any():
            continue
        data.append({"type": "scatter", "mode": "markers", "name": names.get(s, s), "x": xy[m, 0].round(3),
                     "y": xy[m, 1].round(3), "marker": {"size": 4, "opacity": 0.6, "color": color(i)},
                     "hoverinfo": "name"})
    return {"data": data, "layout": _layout(title, height=480, xaxis={"title": {"text": axes[0]}, "zeroline": False},
                                            yaxis={"title": {"text": axes[1]}, "zeroline": False},
                                            legend={"itemsizing": "constant"})}


def distributions(features: pd.DataFrame | None, labels, names: dict[str, str], hidden: list[str],
                  columns: tuple[str, ...] = DISTRIBUTION_COLUMNS, *,
                  prepared: Segmented | None = None) -> list[dict[str, Any]]:
    """One box plot per KPI, from quantiles (whiskers at the 5th and 95th percentiles, no raw points).

    ``prepared``: ``features`` and ``labels`` already aligned (:func:`~segmint.evaluate.inputs.prepare`), given instead.
    """
    seg = prepared if prepared is not None else prepare(features, labels)
    figs = []
    for col in [c for c in columns if c in seg.features.columns]:
        x = as_float(seg.features[col])
        q1, med, q3, lo, hi, shown, colors = [], [], [], [], [], [], []
        for i, s in enumerate(seg.segments):
            v = x[seg.members[s].to_numpy()]
            v = v[np.isfinite(v)]
            if s in hidden or len(v) == 0:
                continue
            p = np.percentile(v, [5, 25, 50, 75, 95])
            lo.append(p[0]), q1.append(p[1]), med.append(p[2]), q3.append(p[3]), hi.append(p[4])
            shown.append(names.get(s, s)), colors.append(color(i))
        if not shown:
            continue
        data = [{"type": "box", "name": n, "x": [n], "q1": [a], "median": [b], "q3": [c], "lowerfence": [d],
                 "upperfence": [e], "marker": {"color": k}, "showlegend": False, "hoverinfo": "y"}
                for n, a, b, c, d, e, k in zip(shown, q1, med, q3, lo, hi, colors)]
        figs.append({"data": data, "layout": _layout(f"{col} by segment",
                                                    height=340, xaxis={"automargin": True, "tickangle": -25})})
    return figs


def kselection_lines(selection: pd.DataFrame, chosen_k: int | None = None) -> dict[str, Any] | None:
    """The k-selection criteria against k, each on its own small panel, the chosen k marked."""
    if selection is None or len(selection) == 0 or "k" not in selection:
        return None
    sel = selection.sort_values("k")
    metrics = [c for c in ("silhouette", "calinski_harabasz", "davies_bouldin", "bic", "stability", "inertia")
               if c in sel and sel[c].notna().any()]
    if not metrics:
        return None
    if chosen_k is None and "chosen" in sel and sel["chosen"].fillna(False).astype(bool).any():
        chosen_k = int(sel.loc[sel["chosen"].fillna(False).astype(bool), "k"].iloc[0])
    elif chosen_k is None and "mean_rank" in sel and sel["mean_rank"].notna().any():  # models fitted before issue 21
        chosen_k = int(sel.loc[sel["mean_rank"].idxmin(), "k"])
    cols = 2 if len(metrics) in (2, 4) else min(3, len(metrics))
    rows = int(np.ceil(len(metrics) / cols))
    data, layout = [], _layout(f"Choosing the number of segments{f' (chosen k = {chosen_k})' if chosen_k else ''}",
                               height=260 * rows, showlegend=False)
    better = {"silhouette": "higher", "calinski_harabasz": "higher", "davies_bouldin": "lower", "bic": "lower",
              "stability": "higher", "inertia": "elbow"}
    annotations, shapes = [], []
    for i, m in enumerate(metrics):
        r, c = divmod(i, cols)
        ax = "" if i == 0 else str(i + 1)
        w, h = 1 / cols, 1 / rows
        layout[f"xaxis{ax}"] = {"domain": [c * w + 0.06, (c + 1) * w - 0.04], "anchor": f"y{ax}", "dtick": 1,
                                "title": {"text": "k"}}
        layout[f"yaxis{ax}"] = {"domain": [1 - (r + 1) * h + 0.12, 1 - r * h - 0.1], "anchor": f"x{ax}"}
        data.append({"type": "scatter", "mode": "lines+markers", "x": sel["k"], "y": sel[m], "xaxis": f"x{ax}",
                     "yaxis": f"y{ax}", "name": m, "line": {"color": color(0)}})
        annotations.append({"text": f"{m} ({better[m]} is better)", "xref": f"x{ax} domain", "yref": f"y{ax} domain",
                            "x": 0, "y": 1.15, "showarrow": False, "xanchor": "left", "font": {"size": 11}})
        if chosen_k is not None:
            shapes.append({"type": "line", "xref": f"x{ax}", "yref": f"y{ax} domain", "x0": chosen_k, "x1": chosen_k,
                           "y0": 0, "y1": 1, "line": {"color": color(5), "dash": "dot"}})
    layout["annotations"], layout["shapes"] = annotations, shapes
    return {"data": data, "layout": layout}


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    return f"rgba({int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha})"


def migration_sankey(migrations: pd.DataFrame, names: dict[str, str] | None = None,
                     min_count: int = 10) -> dict[str, Any] | None:
    """Flows between segments at two dates; ``migrations`` is a matrix (from x to) or ``from, to, customers``."""
    if migrations is None or len(migrations) == 0:
        return None
    names = names or {}
    m = migrations
    if {"from", "to"} <= set(m.columns):
        value_col = next(c for c in m.columns if c not in ("from", "to"))
        tidy = m.rename(columns={value_col: "customers"})[["from", "to", "customers"]]
    else:
        tidy = m.rename_axis("from").reset_index().melt(id_vars="from", var_name="to", value_name="customers")
    tidy = tidy[pd.to_numeric(tidy["customers"], errors="coerce").fillna(0) >= min_count]
    if tidy.empty:
        return None
    sources = list(dict.fromkeys(str(x) for x in tidy["from"]))
    targets = list(dict.fromkeys(str(x) for x in tidy["to"]))
    labels = [f"{names.get(s, s)} (before)" for s in sources] + [f"{names.get(t, t)} (after)" for t in targets]
    order = list(dict.fromkeys(sources + targets))  # one colour per segment, on both sides
    colors = [color(order.index(s)) for s in sources] + [color(order.index(t)) for t in targets]
    link = {"source": [sources.index(str(a)) for a in tidy["from"]],
            "target": [len(sources) + targets.index(str(b)) for b in tidy["to"]],
            "value": [int(v) for v in tidy["customers"]],
            "color": [_rgba(color(order.index(str(a))), 0.35) for a in tidy["from"]]}
    return {"data": [{"type": "sankey", "node": {"label": labels, "color": colors, "pad": 12}, "link": link}],
            "layout": _layout(f"Migrations between segments (flows under {min_count} customers hidden)",
                              height=max(360, 40 * len(sources)))}


def path_sankey(sankey: dict[str, Any], title: str, min_count: int = 10) -> dict[str, Any] | None:
    """Session paths as a Sankey: ``sankey`` is :func:`segmint.journeys.paths.top_paths`' (nodes ``"i. step"``).

    Links under ``min_count`` sessions are hidden (small cells, as everywhere in the report).
    """
    links = [lk for lk in (sankey or {}).get("links", []) if lk["value"] >= min_count]
    if not links:
        return None
    nodes = sankey["nodes"]
    used = sorted({lk["source"] for lk in links} | {lk["target"] for lk in links})
    at = {n: i for i, n in enumerate(used)}
    steps = list(dict.fromkeys(nodes[n].split(". ", 1)[1] for n in used))  # one colour per step
    colors = [color(steps.index(nodes[n].split(". ", 1)[1])) for n in used]
    link = {"source": [at[lk["source"]] for lk in links], "target": [at[lk["target"]] for lk in links],
            "value": [lk["value"] for lk in links],
            "color": [_rgba(colors[at[lk["source"]]], 0.35) for lk in links]}
    return {"data": [{"type": "sankey", "node": {"label": [nodes[n] for n in used], "color": colors, "pad": 12},
                      "link": link}],
            "layout": _layout(f"{title} (links under {min_count} sessions hidden)", height=max(360, 28 * len(used)))}

