"""The synthetic shop: :func:`make_shop` in memory, :func:`write_shop` straight to files.

Customers are simulated in fixed chunks of :data:`CHUNK` customers, each with its own
random stream derived from ``(seed, chunk number)``.  Both functions walk the same
chunks, so ``make_shop(n, seed).write(d)`` and ``write_shop(d, n, seed)`` produce the same
bytes, and the same seed always gives byte-identical files.  Dirt has its own random
streams, so planting it does not change what the clean rows say.

Examples
--------
>>> shop = make_shop(300, seed=1)
>>> sorted(shop.frames())
['customers', 'events', 'ground_truth', 'orders', 'responses']
>>> len(shop.customers), shop.customers["customer_id"].iloc[0]
(300, 'C0000001')
>>> bool((shop.orders["amount"] > 0).all())
True
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import ConfigError
from . import dirty as dirt
from .files import FORMATS, TABLES, TableWriter, readme_text
from .simulate import SCHEMAS, simulate_chunk

CHUNK = 10_000  # customers per chunk: small arrays keep memory flat and sorting fast


@dataclass
class Shop:
    """A generated shop: one pandas DataFrame per table, plus what was planted.

    Attributes
    ----------
    customers, orders, events, responses, ground_truth : pandas.DataFrame
        The tables, with the canonical columns described in ``README.txt``.  Timestamps are
        ``datetime64[s]``; with ``dirty=True``, ``orders.ordered_at`` and
        ``customers.signup_at`` are text, since they hold unparseable values.
    dirty_counts : dict of str to int
        Bad rows added per kind (see :mod:`segmint.datasets.dirty`); empty when clean.
    seed : int
    start, end : str
        The simulated period; ``end`` is exclusive.
    """

    customers: pd.DataFrame
    orders: pd.DataFrame
    events: pd.DataFrame
    responses: pd.DataFrame
    ground_truth: pd.DataFrame
    dirty_counts: dict[str, int] = field(default_factory=dict)
    seed: int = 0
    start: str = "2023-01-01"
    end: str = "2025-12-31"

    def frames(self) -> dict[str, pd.DataFrame]:
        """The five tables by name."""
        return {name: getattr(self, name) for name in TABLES}

    def write(self, directory: str | Path, format: str = "csv") -> dict[str, Path]:
        """Write the tables (``customers.csv``...) and a ``README.txt`` to ``directory``.

        Parameters
        ----------
        directory : str or Path
            Created if missing; existing files of the same names are replaced.
        format : {"csv", "parquet"}

        Returns
        -------
        dict of str to Path
            The file written for each table.
        """
        with TableWriter(directory, format) as writer:
            for name, frame in self.frames().items():
                writer.write(name, _from_pandas(name, frame))
            counts = {name: len(frame) for name, frame in self.frames().items()}
            writer.readme(
                readme_text(len(self.customers), self.seed, self.start, self.end, counts, self.dirty_counts)
            )
        return writer.paths


def _from_pandas(name: str, frame: pd.DataFrame) -> pa.Table:
    schema = SCHEMAS[name]
    fields = [
        pa.field(f.name, pa.string())
        if pa.types.is_timestamp(f.type) and not pd.api.types.is_datetime64_any_dtype(frame[f.name])
        else f
        for f in schema
    ]
    return pa.Table.from_pandas(frame[schema.names], schema=pa.schema(fields), preserve_index=False)


def _check(
    n_customers: object, seed: object, start: object, end: object, dirty_fraction: object, fmt: str = "csv"
) -> tuple[np.datetime64, np.datetime64]:
    if isinstance(n_customers, bool) or not isinstance(n_customers, int | np.integer) or n_customers < 1:
        raise ConfigError(f"n_customers must be a positive integer, got {n_customers!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    try:
        t0, t1 = np.datetime64(str(start), "D"), np.datetime64(str(end), "D")
    except ValueError as exc:
        raise ConfigError(
            f"start and end must be ISO dates like '2023-01-01', got {start!r}, {end!r}"
        ) from exc
    if (t1 - t0).astype(int) < 365:
        raise ConfigError(
            f"the period {start} to {end} is shorter than a year; the personas (lapsed customers stop "
            "6-14 months before the end) need at least 365 days, ideally about three years"
        )
    if not isinstance(dirty_fraction, int | float) or not 0 < dirty_fraction <= 0.5:
        raise ConfigError(f"dirty_fraction must be in (0, 0.5], got {dirty_fraction!r}")
    if fmt not in FORMATS:
        raise ConfigError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return t0.astype("datetime64[s]"), t1.astype("datetime64[s]")


def iter_chunks(
    n_customers: int, seed: int, start: np.datetime64, end: np.datetime64, dirty: bool, dirty_fraction: float
) -> Iterator[tuple[dict[str, pa.Table], dict[str, int]]]:
    """Yield each chunk's tables (clean, or with dirt planted) and its dirt counts."""
    order_offset = 0
    width = max(7, len(str(n_customers)))
    for number, first in enumerate(range(0, n_customers, CHUNK)):
        n = min(CHUNK, n_customers - first)
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(number,)))
        tables = simulate_chunk(rng, first, n, n_customers, start, end, order_offset)
        n_orders = tables["orders"].num_rows
        counts: dict[str, int] = {}
        if dirty:
            bad = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(number, 1)))
            tables["orders"], c1 = dirt.dirty_orders(
                bad, tables["orders"], dirty_fraction, order_offset + n_orders, n_customers, width
            )
            tables["customers"], c2 = dirt.dirty_customers(
                bad, tables["customers"], dirty_fraction, first, n_customers, width
            )
            counts = {**c1, **c2}
            order_offset += (
                tables["orders"].num_rows - c1["orders_duplicate_row"] - c1["orders_duplicate_order_id"]
            )
        else:
            order_offset += n_orders
        yield tables, counts


def _add(total: dict[str, int], counts: dict[str, int]) -> None:
    for key, value in counts.items():
        total[key] = total.get(key, 0) + value


def make_shop(
    n_customers: int = 10_000,
    seed: int = 0,
    start: str = "2023-01-01",
    end: str = "2025-12-31",
    dirty: bool = False,
    dirty_fraction: float = 0.01,
) -> Shop:
    """Generate a synthetic shop with planted personas, in memory.

    Parameters
    ----------
    n_customers : int, default 10_000
        Customers to simulate (about 21 orders and 64 events each).
    seed : int, default 0
        Same seed, same shop, byte for byte.
    start, end : str, default "2023-01-01", "2025-12-31"
        The simulated period (ISO dates, at least a year; ``end`` exclusive).
    dirty : bool, default False
        Plant bad rows (see :mod:`segmint.datasets.dirty`); counts in ``Shop.dirty_counts``.
    dirty_fraction : float, default 0.01
        Bad order rows to add, as a fraction of the clean orders.

    Returns
    -------
    Shop

    Raises
    ------
    segmint.errors.ConfigError
        An argument is out of range.

    Examples
    --------
    >>> shop = make_shop(500, seed=3, dirty=True)
    >>> shop.dirty_counts["orders_negative_amount"] > 0
    True
    """
    t0, t1 = _check(n_customers, seed, start, end, dirty_fraction)
    parts: dict[str, list[pa.Table]] = {name: [] for name in TABLES}
    total: dict[str, int] = {}
    for tables, counts in iter_chunks(int(n_customers), int(seed), t0, t1, dirty, dirty_fraction):
        for name in TABLES:
            parts[name].append(tables[name])
        _add(total, counts)
    frames = {name: pa.concat_tables(p).to_pandas() for name, p in parts.items()}
    return Shop(
        **frames,
        dirty_counts=total,
        seed=int(seed),
        start=str(t0.astype("datetime64[D]")),
        end=str(t1.astype("datetime64[D]")),
    )


def write_shop(
    directory: str | Path,
    n_customers: int,
    seed: int = 0,
    dirty: bool = False,
    format: str = "csv",
    start: str = "2023-01-01",
    end: str = "2025-12-31",
    dirty_fraction: float = 0.01,
) -> dict[str, object]:
    """Generate a shop chunk by chunk and write it to ``directory``, in bounded memory.

    Writes the same files as ``make_shop(...).write(directory, format)`` without holding
    the whole shop in memory: a million customers (~20 million orders) stay within a few
    hundred MB.  The next chunk is simulated while the previous one is being written.

    Parameters
    ----------
    directory : str or Path
        Created if missing.
    n_customers, seed, dirty, start, end, dirty_fraction
        As in :func:`make_shop`.
    format : {"csv", "parquet"}, default "csv"

    Returns
    -------
    dict
        ``rows`` (rows written per table), ``dirty_counts`` and ``paths`` (file per table).
    """
    t0, t1 = _check(n_customers, seed, start, end, dirty_fraction, format)
    rows = dict.fromkeys(TABLES, 0)
    total: dict[str, int] = {}
    with TableWriter(directory, format) as writer, concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending: concurrent.futures.Future | None = None
        for tables, counts in iter_chunks(int(n_customers), int(seed), t0, t1, dirty, dirty_fraction):
            if pending is not None:
                pending.result()  # one chunk in flight: memory stays at about two chunks
            pending = pool.submit(_write_chunk, writer, tables)
            for name in TABLES:
                rows[name] += tables[name].num_rows
            _add(total, counts)
        if pending is not None:
            pending.result()
        writer.readme(
            readme_text(
                int(n_customers),
                int(seed),
                str(t0.astype("datetime64[D]")),
                str(t1.astype("datetime64[D]")),
                rows,
                total,
            )
        )
    return {"rows": rows, "dirty_counts": total, "paths": writer.paths}


def _write_chunk(writer: TableWriter, tables: dict[str, pa.Table]) -> None:
    for name in TABLES:
        writer.write(name, tables[name])
