"""Loaders for the shared real data sets (Online Retail, CDNOW, Mall Customers).

The files live outside the repository, in ``../shared/data`` next to the project's root
(see that folder's README for what each file is and the published numbers it should
reproduce).  :func:`data_dir` finds the folder:

1. the environment variable ``SEGMINT_DATA_DIR``, if set (it must exist);
2. otherwise ``shared/data`` in the current directory or any parent of it;
3. otherwise ``shared/data`` in the directory of this installed package or any parent
   (which finds ``../shared/data`` for an editable install in ``<root>/src``).

Examples
--------
>>> CDNOW_SAMPLE_COLUMNS
('customer_id', 'sample_id', 'date', 'cds', 'dollars')
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..errors import DataError

ENV_VAR = "SEGMINT_DATA_DIR"
CDNOW_SAMPLE_COLUMNS = ("customer_id", "sample_id", "date", "cds", "dollars")
FILES = {
    "online_retail": "online_retail.csv.gz",
    "cdnow_master": "cdnow_master.txt",
    "cdnow_sample": "cdnow_sample.txt",
    "cdnow_summary": "cdnow_customers_summary.csv",
    "mall_customers": "mall_customers.csv",
}


def _candidates() -> list[Path]:
    places: list[Path] = []
    for origin in (Path.cwd(), Path(__file__).resolve().parent):
        for folder in (origin, *origin.parents):
            candidate = folder / "shared" / "data"
            if candidate not in places:
                places.append(candidate)
    return places


def data_dir() -> Path:
    """Return the folder holding the shared real data sets.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    segmint.errors.DataError
        ``SEGMINT_DATA_DIR`` points to a missing folder, or no ``shared/data`` folder was
        found; the message lists every place searched.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            raise DataError(
                f"{ENV_VAR} is set to {env!r}, which is not a folder; point it at the folder "
                "holding online_retail.csv.gz, cdnow_*.txt... or unset it"
            )
        return path
    places = _candidates()
    for place in places:
        if place.is_dir():
            return place
    shown = "\n  ".join(str(p) for p in places)
    raise DataError(
        f"cannot find the shared real data: no shared/data folder in any of\n  {shown}\n"
        f"Set {ENV_VAR} to the folder holding online_retail.csv.gz and the CDNOW files."
    )


def _file(key: str) -> Path:
    folder = data_dir()
    path = folder / FILES[key]
    if not path.is_file():
        present = ", ".join(sorted(p.name for p in folder.iterdir())) or "nothing"
        raise DataError(f"{FILES[key]} is missing from {folder} (it holds: {present})")
    return path


def online_retail_path() -> Path:
    """Path of ``online_retail.csv.gz`` (UCI Online Retail, 541,909 line items).

    It is returned rather than loaded because ingest should read it as any user file would.
    """
    return _file("online_retail")


def load_cdnow_summary() -> pd.DataFrame:
    """The CDNOW calibration summary of Fader, Hardie & Lee (2005), in weeks.

    Returns
    -------
    pandas.DataFrame
        2,357 rows: ``sample_id`` (joins :func:`load_cdnow_sample`), ``frequency`` (repeat
        purchases), ``recency`` and ``T`` (weeks).  BG/NBD on it gives r = 0.243,
        alpha = 4.414, a = 0.793, b = 2.426.
    """
    frame = pd.read_csv(_file("cdnow_summary"))
    frame = frame.rename(columns={"ID": "sample_id"})
    return frame.astype({"sample_id": "int64", "frequency": "int64", "recency": "float64", "T": "float64"})


def _read_cdnow(path: Path, names: list[str]) -> pd.DataFrame:
    frame = pd.read_csv(path, sep=r"\s+", header=None, names=names, dtype={"customer_id": str, "date": str})
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    return frame


def load_cdnow_sample() -> pd.DataFrame:
    """The 1/10 CDNOW sample: 6,919 purchases of 2,357 customers (Jan 1997 - Jun 1998).

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (master id as text, ``"00004"``), ``sample_id`` (int, the id of
        :func:`load_cdnow_summary`), ``date`` (datetime64), ``cds`` (int), ``dollars`` (float).
    """
    frame = _read_cdnow(_file("cdnow_sample"), list(CDNOW_SAMPLE_COLUMNS))
    return frame.astype({"sample_id": "int64", "cds": "int64", "dollars": "float64"})


def load_cdnow_master() -> pd.DataFrame:
    """Every CDNOW purchase: 69,659 rows of 23,570 customers.

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (text), ``date`` (datetime64), ``cds`` (int), ``dollars`` (float).
    """
    path = _file("cdnow_master")
    frame = pd.read_csv(
        path,
        sep=r"\s+",
        header=0,
        names=["customer_id", "date", "cds", "dollars"],
        dtype={"customer_id": str, "date": str},
    )
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    return frame.astype({"cds": "int64", "dollars": "float64"})


def load_mall_customers() -> pd.DataFrame:
    """The 200 "Mall Customers": gender, age, annual income (k) and spending score (1-100).

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (text, ``"0001"``), ``gender``, ``age``, ``annual_income_thousands``,
        ``spending_score``.
    """
    return pd.read_csv(_file("mall_customers"), dtype={"customer_id": str, "gender": str})
