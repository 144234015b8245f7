"""The one consent rule for audiences that leave segmint.

Customers without ``marketing_consent`` (false, or not known) are left out of every export:
``segmint members`` (the terminal and ``-o FILE``), the API's member pages and exports, and
any destination added later. Each of those paths calls :func:`apply_consent`; none filters
on its own. Including them takes an explicit choice (``--include-unconsented`` in the CLI,
``include_non_consented=true`` with an admin token in the API), and that choice is written
to the ``audit_log`` with who made it (:attr:`segmint.workspace.Workspace.audit_log`).

Examples
--------
>>> import tempfile
>>> import pandas as pd
>>> from segmint.workspace import Workspace
>>> ws = Workspace.init(tempfile.mkdtemp() + "/shop")
>>> _ = ws.ingest("customers", pd.DataFrame({"customer_id": ["C1", "C2", "C3"],
...                                          "marketing_consent": ["true", "false", None]}))
>>> import ibis
>>> members = ibis.memtable({"customer_id": ["C1", "C2", "C3"], "segment": ["VIP"] * 3})
>>> apply_consent(ws.store, members).to_pyarrow()["customer_id"].to_pylist()
['C1']
>>> apply_consent(ws.store, members, include_unconsented=True).count().execute()
3
>>> ws.close()
"""

from __future__ import annotations

import ibis.expr.types as ir

__all__ = ["CONSENT", "apply_consent"]

#: The customers column that says whether a customer may be contacted for marketing.
CONSENT = "marketing_consent"


def apply_consent(store, members: ir.Table, include_unconsented: bool = False) -> ir.Table:
    """``members`` with each customer's ``marketing_consent``, keeping consented customers only.

    Parameters
    ----------
    store : segmint.store.Store
        Where the ``customers`` table is.
    members : ibis.Table
        Has a ``customer_id`` column (a segment's members, an audience).
    include_unconsented : bool, default False
        Keep everyone (the caller must have audited that choice: :func:`audit_export`).

    Returns
    -------
    ibis.Table
        The members' columns and ``marketing_consent`` (null where the customer is unknown or
        the source gave none); a null counts as no consent.
    """
    m = members
    if CONSENT not in m.columns:
        c = store.table("customers").select("customer_id", CONSENT)
        m = m.left_join(c, m.customer_id == c.customer_id).drop("customer_id_right")
    if not include_unconsented:
        m = m.filter(m[CONSENT].fill_null(False))
    return m
