"""A second period in which one persona's behaviour shifts: the data for monitoring demos and tests.

:func:`shift_frames` cuts a generated shop at ``split``: the first period is every row before it
(customers: all of them; a customer counts from their sign-up date), the second every order, event
and survey answer from ``split`` on, except that the ``persona`` stops buying in the second period
(its customers' orders from ``split`` on are left out; their events stay). Nothing else changes, so a
monitor comparing the runs at ``split`` and at the end should flag that persona's order features and
nothing else. :func:`write_shifted` does the same to the files of ``segmint generate`` and writes the
second period to ``DIR/period2/``.

The other change, ``change="appear"``: a new persona appears in the second period. Its customers and
all their rows are absent from the first period; the second holds their customer rows
(``period2/customers``) and their orders, events and answers from ``split`` on, so they arrive as new
customers whose history starts in the second period.

Examples
--------
>>> from segmint.datasets import make_shop
>>> shop = make_shop(300, seed=1)
>>> first, second = shift_frames(shop_frames(shop), shop.ground_truth, "bargain_hunter", "2025-10-01")
>>> bh = set(shop.ground_truth.customer_id[shop.ground_truth.persona == "bargain_hunter"])
>>> bool(second["orders"].customer_id.isin(bh).any()), bool(first["orders"].customer_id.isin(bh).any())
(False, True)
>>> bool((pd.to_datetime(first["orders"].ordered_at) < "2025-10-01").all())
True
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from segmint.errors import ConfigError

from .personas import PERSONA_NAMES

__all__ = ["CHANGES", "DEFAULT_SPLIT", "PERIOD2", "check_persona", "TIME_COLUMNS", "shift_frames", "shop_frames",
           "write_shifted"]

#: The folder (inside the shop's) that holds the second period's files.
PERIOD2 = "period2"
TIME_COLUMNS = {"orders": "ordered_at", "events": "occurred_at", "responses": "answered_at"}
#: What happens to the persona in the second period: it stops buying, or it appears (new customers).
CHANGES = ("stop", "appear")


def shop_frames(shop) -> dict[str, pd.DataFrame]:
    """The tables of a :class:`~segmint.datasets.Shop` by name (customers, orders, events, responses)."""
    return {"customers": shop.customers, "orders": shop.orders, "events": shop.events, "responses": shop.responses}


def check_persona(persona: str, option: str = "--shift") -> None:
    """Raise a ConfigError unless ``persona`` is one of the shop's personas."""
    if persona not in PERSONA_NAMES:
        raise ConfigError(f"{option} {persona!r}: not a persona of the generated shop; personas: "
                         f"{', '.join(PERSONA_NAMES)}")


def shift_frames(frames: dict[str, pd.DataFrame], ground_truth: pd.DataFrame, persona: str, split,
                 until=None, change: str = "stop") -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """The two periods of ``frames``: rows before ``split``, and rows from it on (before ``until``, when
    given); ``change="stop"``: ``persona``'s orders left out of the second; ``"appear"``: ``persona``'s
    customers and rows left out of the first, the second also holds their ``customers`` rows.

    Examples
    --------
    >>> from segmint.datasets import make_shop
    >>> shop = make_shop(300, seed=1)
    >>> first, second = shift_frames(shop_frames(shop), shop.ground_truth, "small_business", "2024-06-01",
    ...                              change="appear")
    >>> sb = set(shop.ground_truth.customer_id[shop.ground_truth.persona == "small_business"])
    >>> bool(first["customers"].customer_id.isin(sb).any()), bool(first["orders"].customer_id.isin(sb).any())
    (False, False)
    >>> bool(second["customers"].customer_id.isin(sb).all()), bool(second["orders"].customer_id.isin(sb).any())
    (True, True)
    """
    check_persona(persona)
    if change not in CHANGES:
        raise ConfigError(f"change {change!r}: use one of {', '.join(CHANGES)}")
    cut = pd.Timestamp(split)
    shifted = set(ground_truth.loc[ground_truth["persona"] == persona, "customer_id"])
    customers = frames["customers"]
    first = {"customers": customers}
    second: dict[str, pd.DataFrame] = {}
    if change == "appear":
        new = customers["customer_id"].isin(shifted).to_numpy()
        first["customers"], second["customers"] = customers[~new], customers[new]
    for name, col in TIME_COLUMNS.items():
        frame = frames[name]
        when = pd.to_datetime(frame[col], errors="coerce")
        before = (when < cut).to_numpy()
        first[name] = frame[before]
        later = frame[~before]
        if until is not None:
            later = later[(when[~before] < pd.Timestamp(until)).to_numpy()]
        if change == "appear":
            first[name] = first[name][~first[name]["customer_id"].isin(shifted)]
        elif name == "orders":
            later = later[~later["customer_id"].isin(shifted)]
        second[name] = later
    return first, second


#: Where the second period starts by default: mid-2024, before the lapsed persona goes quiet (its last
#: orders fall 180 to 400 days before the shop's end) and outside the gift buyers' season.
DEFAULT_SPLIT = "2024-06-01"


def write_shifted(directory: str | Path, persona: str, split: str = DEFAULT_SPLIT, days: int = 90,
                  fmt: str = "csv", change: str = "stop") -> dict[str, object]:
    """Cut the shop files in ``directory`` at ``split``: rows before it stay; the ``days`` from it on, with
    ``persona``'s orders left out (``change="appear"``: with ``persona`` appearing, see
    :func:`shift_frames`), go to ``directory/period2``; later rows are dropped.

    Returns ``split``, ``until``, ``persona``, ``change``, ``rows`` (per period and table) and ``paths`` of the
    second period.
    """
    check_persona(persona)
    directory = Path(directory)
    cut = pd.Timestamp(split).normalize()
    until = cut + pd.Timedelta(days=int(days))
    ext = "csv" if fmt == "csv" else "parquet"

    def read(name: str) -> pd.DataFrame:
        path = directory / f"{name}.{ext}"
        return pd.read_csv(path, dtype=str, keep_default_na=False) if fmt == "csv" else pd.read_parquet(path)

    frames = {n: read(n) for n in ("customers", *TIME_COLUMNS)}
    first, second = shift_frames(frames, read("ground_truth"), persona, cut, until, change)
    out = directory / PERIOD2
    out.mkdir(exist_ok=True)
    paths = {}
    for name in [*(["customers"] if change == "appear" else []), *TIME_COLUMNS]:
        for folder, part in ((directory, first), (out, second)):
            path = folder / f"{name}.{ext}"
            if fmt == "csv":
                part[name].to_csv(path, index=False)
            else:
                part[name].to_parquet(path, index=False)
        paths[name] = str(out / f"{name}.{ext}")
    return {"split": cut.date().isoformat(), "until": until.date().isoformat(), "persona": persona, "change": change,
            "paths": paths, "rows": {"period1": {n: len(first[n]) for n in first},
                                     "period2": {n: len(second[n]) for n in second}}}
