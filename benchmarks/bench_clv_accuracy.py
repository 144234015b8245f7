"""CLV accuracy on real data: calibration/holdout on CDNOW and Online Retail, segmint vs Lifetimes vs naive.

Usage::

    python benchmarks/bench_clv_accuracy.py                  # writes benchmarks/results/clv-accuracy.md

Lifetimes joins the table when it can be imported (it is not a segmint dependency; with today's
pandas it imports when installed without its pinned dependencies, e.g.
``pip install --target DIR --no-deps lifetimes autograd dill`` and ``PYTHONPATH=DIR``); otherwise
its rows say so. Every model is fitted on the same calibration summary, in one run:

- CDNOW (``cdnow_master.txt``, 23,570 customers): calibration 1997-01-01 to 1997-09-30 (39 weeks),
  holdout to 1998-06-30 (39 weeks), time in weeks (days / 7), as in Fader, Hardie & Lee (2005).
- Online Retail (rows with a CustomerID, quantity > 0 and price > 0): calibration to 2011-08-31,
  holdout to 2011-12-09 (100 days), time in days.

Measures per customer: the holdout's repeat-purchase periods predicted from the calibration
history against those observed: mean absolute error, root mean squared error, Pearson
correlation, and the totals. Naive baselines: each customer keeps their calibration rate
(frequency / T times the holdout length), and everyone gets the calibration mean rate.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy

import segmint
from segmint.clv import BetaGeo, ParetoNBD, UnidentifiedWarning, calibration_and_holdout

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"


def cdnow() -> tuple[pd.DataFrame, str]:
    tx = pd.read_csv(DATA / "cdnow_master.txt", sep=r"\s+", dtype={"date": str})
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    frame = calibration_and_holdout(tx, "customer_id", "date", "1997-09-30", "1998-06-30", freq="D",
                                    freq_multiplier=7)
    return frame, "weeks"


def online_retail() -> tuple[pd.DataFrame, str]:
    tx = pd.read_csv(DATA / "online_retail.csv.gz", dtype={"CustomerID": str},
                     usecols=["CustomerID", "Quantity", "UnitPrice", "InvoiceDate"])
    tx = tx[tx.CustomerID.notna() & (tx.Quantity > 0) & (tx.UnitPrice > 0)]
    tx = tx.assign(InvoiceDate=pd.to_datetime(tx.InvoiceDate))
    frame = calibration_and_holdout(tx, "CustomerID", "InvoiceDate", "2011-08-31", "2011-12-09", freq="D")
    return frame, "days"


def _segmint(Model):
    def run(cal, duration):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UnidentifiedWarning)
            model = Model().fit(cal)
        note = "; ".join(sorted({str(w.message).split(":")[1].strip() for w in caught
                                 if issubclass(w.category, UnidentifiedWarning)}))
        params = ", ".join(f"{k} {v:.4g}" for k, v in model.params_.items())
        return model.conditional_expected_purchases(duration, cal).to_numpy(float), params, note
    return run


def _lifetimes(name):
    def run(cal, duration):
        import lifetimes

        fitter = getattr(lifetimes, name)()
        with warnings.catch_warnings(), open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            warnings.simplefilter("ignore")
            fitter.fit(cal["frequency"], cal["recency"], cal["T"])
            pred = fitter.conditional_expected_number_of_purchases_up_to_time(
                duration, cal["frequency"], cal["recency"], cal["T"])
        params = ", ".join(f"{k} {v:.4g}" for k, v in fitter.params_.items())
        return np.asarray(pred, dtype=float), params, ""
    return run


def _own_rate(cal, duration):
    rate = np.where(cal["T"] > 0, cal["frequency"] / np.maximum(cal["T"], 1e-12), 0.0)
    return rate * duration, "frequency / T per customer", ""


def _mean_rate(cal, duration):
    rate = cal["frequency"].sum() / cal["T"].sum()
    return np.full(len(cal), rate * duration), f"{rate:.4g} per period for everyone", ""


METHODS = [
    ("segmint BG/NBD", _segmint(BetaGeo)),
    ("segmint Pareto/NBD", _segmint(ParetoNBD)),
    ("Lifetimes BG/NBD", _lifetimes("BetaGeoFitter")),
    ("Lifetimes Pareto/NBD", _lifetimes("ParetoNBDFitter")),
    ("naive: own calibration rate", _own_rate),
    ("naive: mean calibration rate", _mean_rate),
]


def evaluate(frame: pd.DataFrame) -> list[dict]:
    cal = pd.DataFrame({"frequency": frame["frequency_cal"].to_numpy(float),
                        "recency": frame["recency_cal"].to_numpy(float), "T": frame["T_cal"].to_numpy(float)})
    duration = float(frame["duration_holdout"].iloc[0])
    actual = frame["frequency_holdout"].to_numpy(float)
    rows = []
    for name, method in METHODS:
        start = time.perf_counter()
        try:
            pred, params, note = method(cal, duration)
        except ImportError:
            rows.append({"method": name, "note": "Lifetimes is not installed here"})
            continue
        except Exception as exc:  # a peer that fails on the data is a result too
            message = " ".join(str(exc).split())[:160]
            rows.append({"method": name, "note": f"failed: {type(exc).__name__}: {message}"})
            continue
        seconds = time.perf_counter() - start
        err = pred - actual
        finite = np.isfinite(pred).all()
        rows.append({
            "method": name, "seconds": seconds, "params": params, "note": note,
            "predicted": float(pred.sum()) if finite else np.nan, "actual": float(actual.sum()),
            "mae": float(np.mean(np.abs(err))) if finite else np.nan,
            "rmse": float(np.sqrt(np.mean(err ** 2))) if finite else np.nan,
            "corr": float(np.corrcoef(pred, actual)[0, 1]) if finite and np.ptp(pred) > 0 else np.nan,
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "results" / "clv-accuracy.md")
    args = parser.parse_args()
    try:
        import lifetimes
        peer = f"Lifetimes {lifetimes.__version__} (same process, same pandas/numpy/scipy)"
    except ImportError:
        peer = "Lifetimes not installed: its rows are empty"
    lines = [
        "# CLV accuracy: calibration/holdout on real data (segmint vs Lifetimes vs naive)",
        "",
        "- command: `python benchmarks/bench_clv_accuracy.py`",
        f"- machine: {platform.machine()}, 2 cores (shared with other work), {platform.platform()}",
        f"- segmint {segmint.__version__}: Python {platform.python_version()}, pandas {pd.__version__}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}; {peer}",
        "- each model fitted on the same calibration summary with its library's defaults (no penalty); "
        "prediction: the expected repeat-purchase periods in the holdout given the calibration history",
        "- MAE / RMSE: per customer; correlation: Pearson, per customer; totals over all customers",
        "",
    ]
    for title, load in (("CDNOW: 23,570 customers, 39 weeks calibration, 39 weeks holdout, in weeks", cdnow),
                        ("Online Retail: calibration to 2011-08-31, holdout to 2011-12-09 (100 days), in days",
                         online_retail)):
        frame, unit = load()
        rows = evaluate(frame)
        lines += [f"## {title}", "",
                  f"{len(frame):,} customers in the calibration period, {int((frame.frequency_cal > 0).sum()):,} "
                  f"with a repeat purchase; holdout: {frame.frequency_holdout.sum():,.0f} repeat-purchase {unit[:-1]}s "
                  f"observed.", "",
                  "| method | predicted total | actual total | MAE | RMSE | correlation | fit+predict s | parameters |",
                  "|---|---:|---:|---:|---:|---:|---:|---|"]
        notes = []
        for r in rows:
            if "predicted" not in r:
                lines.append(f"| {r['method']} | | | | | | | {r['note']} |")
                continue
            lines.append(f"| {r['method']} | {r['predicted']:,.0f} | {r['actual']:,.0f} | {r['mae']:.4f} | "
                         f"{r['rmse']:.4f} | {r['corr']:.4f} | {r['seconds']:.2f} | {r['params']} |")
            if r["note"]:
                notes.append(f"- {r['method']}: the fit warned (UnidentifiedWarning): {r['note']}.")
        lines += [""] + notes + ([""] if notes else [])
        print("\n".join(lines[-(len(rows) + 6):]), flush=True)
    lines += [
        "Notes:",
        "",
        "- The naive baselines show what the models add: the own-rate forecast ignores dropout and "
        "over-predicts for customers who stopped; the mean rate ignores everything about the customer.",
        "- segmint and Lifetimes fit the same model to the same summary: where both converge their "
        "predictions agree to the digits shown. On Online Retail (in days) Lifetimes' BG/NBD raises "
        "ConvergenceError without a penalty; segmint's fits. Both Pareto/NBD fits there drive s towards 0 "
        "(almost nobody seems to drop out), where the BG/NBD fit has a -> 0: the two models predict the same.",
        "- Online Retail's holdout (September to December 2011) holds the Christmas peak, which no stationary "
        "model sees: every method under-predicts the total, and there the customer's own calibration rate "
        "has a slightly lower error than the models (it over-predicts the customers who stopped and so "
        "offsets the season). On CDNOW, where the holdout is not seasonal, the models beat both baselines "
        "on every measure.",
        "- The machine is shared with other work: the times are indicative only.",
    ]
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
