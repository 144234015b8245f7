"""Engagement from events: e-mail open and click rates, recent visits, support contacts.

Rates are per e-mail *sent*: ``email_open_rate = email_open / email_sent`` and
``email_click_rate = email_click / email_sent`` over all events before ``as_of``;
null when nothing was sent. A rate can exceed 1 when a customer opens one e-mail
several times: it is not clipped, so it stays a faithful ratio of counts.
Without any event before ``as_of`` (Online Retail has none) the family is absent.
"""

from __future__ import annotations

import ibis.expr.types as ir

from segmint.features.asof import Context

__all__ = ["features", "derive", "COUNTS"]

#: Count columns, filled with 0 for customers without events.
COUNTS = ("emails_sent", "_email_opens", "_email_clicks", "web_visits_last_30", "app_opens_last_30",
          "support_contacts")


def features(ctx: Context) -> ir.Table | None:
    """Per-customer event counts, or None (family absent) without events."""
    if ctx.events is None:
        ctx.skipped["engagement"] = "no events before as_of"
        return None
    e = ctx.events
    recent = e.occurred_at >= ctx.since(30)

    def n(name: str, where: ir.BooleanValue | None = None) -> ir.IntegerScalar:
        cond = e.event == name
        return e.event.count(where=cond if where is None else cond & where)

    return e.group_by("customer_id").aggregate(
        emails_sent=n("email_sent"),
        _email_opens=n("email_open"),
        _email_clicks=n("email_click"),
        web_visits_last_30=n("web_visit", recent),
        app_opens_last_30=n("app_open", recent),
        support_contacts=n("support_contact"),
        _last_event_at=e.occurred_at.max(),
    )


def derive(t: ir.Table, ctx: Context) -> dict[str, ir.Value]:
    """Counts filled with 0, the rates and the days since the last event."""
    if "emails_sent" not in t.columns:
        return {}
    out: dict[str, ir.Value] = {c: t[c].fill_null(0) for c in COUNTS}
    sent = out["emails_sent"].nullif(0).cast("float64")
    out.update(
        email_open_rate=out["_email_opens"].cast("float64") / sent,
        email_click_rate=out["_email_clicks"].cast("float64") / sent,
        days_since_last_event=ctx.days_before(t._last_event_at),
    )
    return out
