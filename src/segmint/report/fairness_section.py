"""The report's "Fairness" section: the table of :func:`segmint.privacy.fairness.fairness_table`, as HTML.

Examples
--------
>>> import pandas as pd
>>> from segmint.privacy.fairness import fairness_table
>>> labels = pd.Series(["A"] * 60 + ["B"] * 40, index=[f"C{i}" for i in range(100)])
>>> gender = pd.Series(["F"] * 50 + ["M"] * 50, index=labels.index)
>>> html = fairness_html(fairness_table(labels, {"gender": gender}, bootstrap=0, min_cell=5), {"A": "Loyal"})
>>> "Loyal" in html and "four-fifths" in html
True
"""

from __future__ import annotations

import html as _html
from collections.abc import Mapping
from typing import Any


def _e(x: Any) -> str:
    return _html.escape("" if x is None else str(x))


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.1f}%"


def _ci(pair: list | None) -> str:
    return "" if not pair or pair[0] is None else f"{_pct(pair[0])} to {_pct(pair[1])}"


def fairness_html(table: Mapping[str, Any] | None, names: Mapping[str, str]) -> str:
    """One table per protected attribute: segment, group, members, share vs base, disparity, four-fifths, balance."""
    if not table or not table.get("attributes"):
        return ("<p>No protected attribute (privacy.fairness.attributes) is in this run's feature snapshot: "
                "nothing to audit.</p>")
    out = [f'<p class="lead">Each protected group\'s share of each segment against its share of all '
           f'{table["customers"]:,} customers; the disparity ratio compares the group\'s selection rate with the '
           f'reference group\'s (four-fifths rule: flagged under {table["threshold"]} or over '
           f'{1 / table["threshold"]:.2f}); balance is Chierichetti\'s (1: balanced). Intervals: 95% bootstrap '
           f'({table["bootstrap"]} resamples). Cells under {table["min_cell"]} customers are suppressed.</p>']
    for a in table["attributes"]:
        rows = []
        for s in a["segments"]:
            seg = f'{_e(names.get(s["segment"], s["segment"]))}<br><small>balance {_e(s["balance"])}</small>'
            for c in s["cells"]:
                if c["suppressed"]:
                    cells = f'<td class="num" colspan="5">fewer than {table["min_cell"]} (suppressed)</td>'
                else:
                    flag = c["four_fifths"]
                    badge = f'<span class="badge {"good" if flag == "ok" else "poor"}">{_e(flag)}</span>'
                    cells = (f'<td class="num">{c["members"]:,}</td><td class="num">{_pct(c["share"])}</td>'
                             f'<td class="num">{_pct(c["base_share"])}</td>'
                             f'<td class="num">{_ci(c.get("share_ci"))}</td>'
                             f'<td class="num">{_e(c["disparity_ratio"])} {badge}</td>')
                rows.append(f"<tr><td>{seg}</td><td>{_e(c['group'])}</td>{cells}</tr>")
                seg = ""
        out.append(f"<h3>{_e(a['attribute'])}</h3><p>Reference group: {_e(a['reference'])}; balance of the base "
                   f"{_e(a['balance_base'])}; {a['flagged']} cell(s) outside the four-fifths rule.</p>"
                   "<table><tr><th>segment</th><th>group</th><th>members</th><th>share</th><th>base share</th>"
                   "<th>share 95% interval</th><th>disparity ratio</th></tr>" + "".join(rows) + "</table>")
    if table.get("not_in_snapshot"):
        out.append(f"<p>Not in the feature snapshot: {_e(', '.join(table['not_in_snapshot']))}.</p>")
    return "\n".join(out)


__all__ = ["fairness_html"]
