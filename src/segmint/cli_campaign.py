"""``segmint campaign`` (create, list, members, audience, measure, plan) and ``segmint lookalike``.

Thin wrappers over the Workspace's measurement methods (:mod:`segmint.measure`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from segmint import console
from segmint.cli import JsonOpt, WorkspaceOpt, app, open_workspace
from segmint.errors import ConfigError

campaign_app = typer.Typer(name="campaign", no_args_is_help=True,
                           help="Campaigns with holdout groups: create, members, measure the lift, plan the size.")
app.add_typer(campaign_app, name="campaign")

OutcomeOpt = typer.Option("conversion", "--outcome", help="What the campaign should move: conversion (ordered in "
                          "the window), revenue (net spend), orders (order count), event:NAME (had an event NAME "
                          "of the events table, e.g. event:email_click) or event_count:NAME (how many).")


def _pct(v: float | None) -> str:
    return "" if v is None else f"{v:+.1%}"


def _num(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:,.4f}" if abs(v) < 10 else f"{v:,.2f}"


def _ci(ci: list | None, fmt=_num) -> str:
    if not ci or ci[0] is None:
        return ""
    return f"[{fmt(ci[0])}, {fmt(ci[1])}]"


@campaign_app.command("create")
def create(
    name: str = typer.Argument(..., help="Campaign name (letters, digits, _ . -)."),
    segmentation: str = typer.Option(..., "--segmentation", help="The segmentation whose members it targets."),
    segment: list[str] = typer.Option([], "--segment", help="A segment it targets (repeatable; default: all)."),
    holdout: float = typer.Option(0.1, "--holdout", help="Share of the members held out (never contacted)."),
    start: str = typer.Option(..., "--start", help="First day of the campaign window (YYYY-MM-DD)."),
    end: str | None = typer.Option(None, "--end", help="Day after the window (YYYY-MM-DD); default: open, up "
                                   "to the latest order when measured."),
    outcome: str = OutcomeOpt,
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Create a campaign and assign every member to treatment or holdout (salted hash, stable)."""
    with open_workspace(workspace) as ws:
        c = ws.create_campaign(name, segmentation, list(segment) or None, holdout=holdout, start=start, end=end,
                               outcome=outcome)
        counts = _counts(ws.campaign_members(name))
    info = {**c.to_dict(), "members": counts}
    if as_json:
        console.print_json(info)
        return
    rows = [[s, console.fmt_int(v["treatment"]), console.fmt_int(v["holdout"])] for s, v in counts.items()]
    console.out.print(console.table(f"Campaign {name} on {segmentation} ({holdout:.0%} held out, from {c.to_dict()['start']})",
                                    ["segment", "treatment", "holdout"], rows,
                                    {"treatment": "right", "holdout": "right"}))


def _counts(members) -> dict[str, dict[str, int]]:
    agg = members.group_by(["segment", "group"]).aggregate(n=members.count()).to_pyarrow().to_pylist()
    out: dict[str, dict[str, int]] = {}
    for r in sorted(agg, key=lambda r: r["segment"]):
        out.setdefault(r["segment"], {"treatment": 0, "holdout": 0})[r["group"]] = int(r["n"])
    return out


@campaign_app.command("list")
def list_(workspace: Path | None = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """The campaigns of the workspace."""
    with open_workspace(workspace) as ws:
        every = [c.to_dict() for c in ws.campaigns()]
    if as_json:
        console.print_json({"campaigns": every})
        return
    rows = [[c["name"], c["segmentation"], ", ".join(c["segments"] or ["(all)"]), f"{c['holdout']:.0%}",
             c["start"], c["end"] or "", c["outcome"]] for c in every]
    console.out.print(console.table("Campaigns", ["name", "segmentation", "segments", "holdout", "start", "end",
                                                  "outcome"], rows))


@campaign_app.command("members")
def members(
    name: str = typer.Argument(..., help="Campaign."),
    output: Path = typer.Option(..., "--output", "-o", help="File: .csv, .parquet or .jsonl."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Write every member with their group: customer_id, segment, group (treatment/holdout), assigned_at."""
    from segmint.cli_segments import _cli_user
    from segmint.segment.export import format_of, write_members

    format_of(output)
    with open_workspace(workspace) as ws:
        table = ws.campaign_members(name).order_by("customer_id")
        n = write_members(table, output, raw_csv=not ws.config.exports.neutralise_formulas)
        ws.audit_log.record(_cli_user(), "cli", "campaign-members", name, n, {"file": str(output)})
    if as_json:
        console.print_json({"campaign": name, "file": str(output), "rows": n})
    else:
        console.info(f"Wrote {n:,} members of campaign {name} (treatment and holdout) to {output}")


@campaign_app.command("audience")
def audience(
    name: str = typer.Argument(..., help="Campaign."),
    output: Path = typer.Option(..., "--output", "-o", help="File: .csv, .parquet or .jsonl."),
    include_unconsented: bool = typer.Option(
        False, "--include-unconsented", help="Also export customers without marketing consent (audited)."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Export who the campaign may contact: its treatment group (holdouts never), consented customers only."""
    from segmint.cli_segments import _cli_user
    from segmint.segment.export import format_of, write_members

    format_of(output)
    with open_workspace(workspace) as ws:
        table = ws.campaign_audience(name, include_unconsented).order_by("customer_id")
        n = write_members(table, output, raw_csv=not ws.config.exports.neutralise_formulas)
        ws.audit_log.record(_cli_user(), "cli", "export", f"campaign:{name}", n,
                            {"file": str(output), "consented_only": not include_unconsented,
                             "holdouts_excluded": True})
    if as_json:
        console.print_json({"campaign": name, "file": str(output), "rows": n})
    else:
        console.info(f"Wrote {n:,} treatment members of campaign {name} to {output} (holdouts left out)")


@campaign_app.command("measure")
def measure(
    name: str = typer.Argument(..., help="Campaign."),
    covariate: str | None = typer.Option(None, "--covariate", help="Feature of the snapshot at the start used "
                                         "by CUPED (default: spend or orders in the last N days; for an event "
                                         "outcome pre_period, the same outcome over as many days before the start; "
                                         "none: no CUPED)."),
    bootstrap: int = typer.Option(200, "--bootstrap", min=0, help="Bootstrap replicates of the overall check "
                                  "(0: none)."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Lift of treatment over holdout, overall and per segment, with 95% intervals, CUPED and checks."""
    with open_workspace(workspace) as ws:
        with console.status(f"Measuring campaign {name}..."):
            r = ws.measure_campaign(name, covariate=covariate, bootstrap=bootstrap)
    if as_json:
        console.print_json(r)
        return
    _print_readout(r)


def _print_readout(r: dict[str, Any]) -> None:
    kind, _, event = r["outcome"].partition(":")  # conversion, revenue, orders, event:NAME, event_count:NAME
    unit = {"conversion": "conversion rate", "revenue": "revenue per customer", "orders": "orders per customer",
            "event": f"share with {event}", "event_count": f"{event} per customer"}[kind]
    fmt = (lambda v: "" if v is None else f"{v:.2%}") if kind in ("conversion", "event") else _num
    rows = []
    for label, b in [("overall", r["overall"])] + [(s["segment"], s) for s in r["segments"]]:
        p = "" if b["p_value"] is None else f"{b['p_value']:.2g}"
        if b.get("p_value_adjusted") is not None:
            p += f" ({b['p_value_adjusted']:.2g})"
        rows.append([label, f"{b['treatment']['customers']:,} / {b['holdout']['customers']:,}",
                     f"{fmt(b['treatment']['outcome'])} / {fmt(b['holdout']['outcome'])}",
                     f"{fmt(b['lift'])} {_ci(b['lift_ci'], fmt)}",
                     f"{_pct(b['relative_lift'])} {_ci(b['relative_lift_ci'], _pct)}", p])
    cols = ["", "customers T / H", f"{unit} T / H", "lift [95% CI]", "relative [95% CI]", "p (Holm)"]
    console.out.print(console.table(f"Campaign {r['campaign']}: {r['window']['start']} to {r['window']['end']}",
                                    cols, rows, {c: "right" for c in cols[1:]}))
    o = r["overall"]
    if "cuped" in o:
        c = o["cuped"]
        console.out.print(f"CUPED on {_covariate(r)}: lift {fmt(c['lift'])} {_ci(c['lift_ci'], fmt)}, "
                          f"variance {c['variance_reduction']:.0%} lower")
    if "bootstrap_lift_ci" in o:
        console.out.print(f"Bootstrap check of the overall interval: {_ci(o['bootstrap_lift_ci'], fmt)}")
    srm = o["sample_ratio"]
    if srm.get("mismatch"):
        console.out.print(f"[bold red]Sample-ratio mismatch[/]: {srm['observed_holdout_share']:.2%} held out, "
                          f"{srm['expected_holdout_share']:.0%} planned (p = {srm['p_value']:.2g}); do not trust "
                          "the lift until you know why")
    else:
        console.out.print("Sample ratio: as planned")


def _covariate(r: dict[str, Any]) -> str:
    if r["covariate"] == "pre_period":
        return f"the same outcome from {r['window']['pre_period_start']} to {r['window']['start']}"
    return str(r["covariate"])


@campaign_app.command("uplift")
def uplift(
    name: str = typer.Argument(..., help="Campaign."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Who responds: two-model uplift on the features, Qini curve and uplift at k on held-out customers."""
    with open_workspace(workspace) as ws:
        with console.status(f"Modelling the uplift of {name}..."):
            r = ws.campaign_uplift(name)
    if as_json:
        console.print_json(r)
        return
    console.out.print(f"Campaign {name} ({r['outcome']}): fitted on {r['customers_fit']:,} members, evaluated on "
                      f"{r['customers_evaluated']:,} others. Qini coefficient {r['qini_coefficient']:.3f} "
                      f"(random ranking: {r['random_qini_coefficient']:.3f}).")
    rows = [[k, _num(v)] for k, v in r["uplift_at"].items()] + [["all", _num(r["overall_lift"])]]
    console.out.print(console.table("Lift among the top k by predicted uplift", ["top k", "lift"], rows,
                                    {"lift": "right"}))
    srows = [[s["segment"], _num(s["predicted_uplift"]), console.fmt_int(s["customers"])] for s in r["segments"]]
    console.out.print(console.table("Where acting pays most", ["segment", "predicted uplift", "customers"], srows,
                                    {"predicted uplift": "right", "customers": "right"}))


@campaign_app.command("plan")
def plan(
    segmentation: str | None = typer.Option(None, "--segmentation", help="Population: this segmentation's "
                                            "latest run (default: every customer of the latest snapshot)."),
    segment: list[str] = typer.Option([], "--segment", help="Only these segments (repeatable)."),
    holdout: float = typer.Option(0.1, "--holdout", help="Share held out."),
    outcome: str = OutcomeOpt,
    days: int = typer.Option(30, "--days", help="Planned length of the campaign in days (picks the baseline "
                             "window)."),
    mde: float | None = typer.Option(None, "--mde", help="Smallest absolute lift worth detecting (per customer: "
                                     "0.01 = one point of conversion)."),
    customers: int | None = typer.Option(None, "--customers", help="Customers in the test (default: the "
                                         "population's size)."),
    mean: float | None = typer.Option(None, "--mean", help="Baseline mean (or rate) instead of the snapshot's."),
    sd: float | None = typer.Option(None, "--sd", help="Baseline standard deviation instead of the snapshot's."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level (two-sided)."),
    power: float = typer.Option(0.8, "--power", help="Power wanted."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Sample size and minimum detectable effect of a holdout test."""
    with open_workspace(workspace) as ws:
        p = ws.plan_campaign(segmentation, list(segment) or None, holdout=holdout, outcome=outcome, days=days,
                             mde=mde, customers=customers, mean=mean, sd=sd, alpha=alpha, power=power)
    if as_json:
        console.print_json(p)
        return
    console.out.print(f"{console.fmt_int(p['customers'])} customers, baseline {outcome} mean {_num(p['baseline_mean'])}"
                      f" (sd {_num(p['baseline_sd'])}; {p['baseline_from']}).")
    rows = [[f"{r['holdout']:.0%}", _num(r["mde"]), _pct(r["mde_relative"])] for r in p["by_holdout_share"]]
    console.out.print(console.table(f"Smallest lift detectable (power {power:.0%}, alpha {alpha:g})",
                                    ["holdout", "absolute", "relative"], rows, {"absolute": "right",
                                                                                "relative": "right"}))
    if mde is not None:
        verdict = "enough" if p["enough"] else "not enough"
        console.out.print(f"To detect {_num(mde)} with {holdout:.0%} held out: {console.fmt_int(p['customers_needed'])}"
                          f" customers needed; {console.fmt_int(p['customers'])} is {verdict} "
                          f"(power {p['power_at_effect']:.0%}).")


def _parse_top(top: str) -> float:
    text = top.strip().rstrip("%")
    try:
        v = float(text)
    except ValueError:
        raise ConfigError(f"--top {top!r}: write a share such as 5% or 0.05") from None
    v = v / 100 if top.strip().endswith("%") or v > 1 else v
    if not 0 < v <= 1:
        raise ConfigError(f"--top {top!r}: a share between 0 and 100%")
    return v


@app.command()
def lookalike(
    target: str = typer.Argument(..., metavar="S:SEGMENT", help="The seed: a segment of a segmentation's latest run."),
    source: str = typer.Option("customers", "--from", help="Whom to score: customers (outside the seed) or "
                               "prospects (the ingested prospects table)."),
    top: str = typer.Option("5%", "--top", help="Share of the ranking to write, e.g. 5% or 0.05."),
    output: Path | None = typer.Option(None, "--output", "-o", help="File for the top share: customer_id, score, "
                                       "percentile (.csv, .parquet, .jsonl)."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Score people by how much they resemble a segment (Elkan-Noto positive-unlabelled classifier)."""
    from segmint.segment.export import format_of, write_members

    share = _parse_top(top)
    if output is not None:
        format_of(output)
    with open_workspace(workspace) as ws:
        with console.status(f"Scoring lookalikes of {target}..."):
            r = ws.lookalike(target, source, share)
        table = r.pop("table")
        if output is not None:
            import pyarrow as pa

            n = write_members(pa.Table.from_pandas(table, preserve_index=False), output,
                              raw_csv=not ws.config.exports.neutralise_formulas)
            r["file"], r["rows"] = str(output), n
    if as_json:
        if output is None:
            r["top_people"] = table.head(100).to_dict("records")
        console.print_json(r)
        return
    console.out.print(f"Seed {target}: {r['seed']:,} members ({r['as_of']}); {r['candidates']:,} {source} scored "
                      f"({r['features']} features, c = {r['c']:.3f}, {r['seconds']:.1f} s).")
    rows = [[b["band"], console.fmt_int(b["people"]), f"{b['expected_precision']:.1%}",
             f"{b['cumulative_expected_precision']:.1%}"] for b in r["bands"] if b["people"]]
    console.out.print(console.table("Percentile bands (expected precision: the share like the seed)",
                                    ["band", "people", "expected precision", "cumulative"], rows,
                                    {"people": "right", "expected precision": "right", "cumulative": "right"}))
    if r.get("sensitive", {}).get("note"):  # issue 20: protected columns left out, and why
        console.out.print(r["sensitive"]["note"], markup=False)
    drows = [[d["feature"], _num(d["top_mean"]), _num(d["mean"]), f"{d['standardised_difference']:+.2f}"]
             for d in r["drivers"]]
    console.out.print(console.table("What sets the top 10% apart", ["feature", "top 10% mean", "mean",
                                                                     "difference (sd)"], drows))
    if output is not None:
        console.info(f"Wrote the top {share:.0%} ({r['rows']:,} people) to {output}")
