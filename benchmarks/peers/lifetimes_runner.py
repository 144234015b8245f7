"""Time Lifetimes on the benchmark data; run with benchmarks/.venv-peers/bin/python (see make_peer_venv.sh).

Reads the transactions that bench_clv.py wrote (an .npz of customer ids, day offsets and
amounts), times ``summary_data_from_transaction_data`` and ``BetaGeoFitter.fit`` and writes
the timings, the fitted parameters and the summary (for the equality check) next to it.
"""

import argparse
import json
import platform
import time

import lifetimes
import numpy as np
import pandas as pd
import scipy
from lifetimes import BetaGeoFitter
from lifetimes.utils import summary_data_from_transaction_data


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("out")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fit-repeats", type=int, default=3)
    args = parser.parse_args()
    npz = np.load(args.data)
    start = np.datetime64(str(npz["start"]))
    tx = pd.DataFrame({
        "customer_id": npz["customer_id"],
        "date": (start + npz["day"].astype("timedelta64[D]")).astype("datetime64[ns]"),
        "amount": npz["amount"],
    })
    end = str(npz["end"])
    summary_times, summary = [], None
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        summary = summary_data_from_transaction_data(
            tx, "customer_id", "date", "amount", observation_period_end=end, freq="D"
        )
        summary_times.append(time.perf_counter() - t0)
    # Fit the summary that the segmint side fits too (the benchmark checks they are equal).
    fit_times, params = [], None
    for _ in range(args.fit_repeats):
        t0 = time.perf_counter()
        bgf = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
        fit_times.append(time.perf_counter() - t0)
        params = {k: float(v) for k, v in bgf.params_.items()}
    np.savez(args.out + ".summary.npz", index=summary.index.to_numpy(), values=summary.to_numpy(),
             columns=np.array(summary.columns, dtype=str))
    with open(args.out, "w") as fh:
        json.dump({
            "summary_seconds": summary_times, "fit_seconds": fit_times, "params": params,
            "versions": {"lifetimes": lifetimes.__version__, "pandas": pd.__version__, "numpy": np.__version__,
                         "scipy": scipy.__version__, "python": platform.python_version()},
        }, fh)


if __name__ == "__main__":
    main()
