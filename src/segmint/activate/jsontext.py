"""JSON text of deliveries: changes read from Arrow tables, payloads written and read back fast.

A sync of 100,000 changes turned each outbox row into a Python dict, one value at a time,
and wrote and read every payload with the standard library's ``json``: together more than
the requests took. Here a table becomes records column by column (a run's few timestamps
formatted once each), and JSON is written by ``orjson`` when it is installed (a dependency
of segmint; the standard library otherwise, same documents).

Examples
--------
>>> import datetime as dt, pyarrow as pa
>>> t = pa.table({"seq": [1, 2], "as_of": [dt.datetime(2025, 1, 1)] * 2, "score": [0.5, float("nan")],
...               "created_at": [dt.datetime(2025, 1, 2)] * 2})
>>> rows = records(t)
>>> rows
[{'seq': 1, 'as_of': '2025-01-01T00:00:00', 'score': 0.5}, {'seq': 2, 'as_of': '2025-01-01T00:00:00', 'score': None}]
>>> dumps(rows[:1])
b'[{"seq":1,"as_of":"2025-01-01T00:00:00","score":0.5}]'
>>> loads(dumps(rows)) == rows
True
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyarrow as pa

try:  # a dependency of segmint; a bare install without it writes the same JSON, slower
    import orjson
except ImportError:  # pragma: no cover - orjson is installed with segmint
    orjson = None

__all__ = ["dumps", "loads", "records"]


def _default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)  # a Decimal or another value JSON has no type for: its text


def dumps(value: Any) -> bytes:
    """Compact JSON as UTF-8 bytes (dates in ISO 8601, other unknown values as their text)."""
    if orjson is not None:
        return orjson.dumps(value, default=_default)
    return json.dumps(value, default=_default, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def loads(text: str | bytes) -> Any:
    """The value of a JSON text."""
    return orjson.loads(text) if orjson is not None else json.loads(text)


def _column(col: pa.ChunkedArray) -> list[Any]:
    """One column as JSON-ready Python values: times as ISO text, NaN as None."""
    t = col.type
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        # a run's changes share a handful of times (its as_of): each distinct one is formatted once
        encoded = col.combine_chunks().dictionary_encode()
        text = [None if v is None else v.isoformat() for v in encoded.dictionary.to_pylist()]
        return [None if i is None else text[i] for i in encoded.indices.to_pylist()]
    values = col.to_pylist()
    if pa.types.is_floating(t):
        return [None if v is None or v != v else v for v in values]
    return values


def records(table: pa.Table, drop: tuple[str, ...] = ("created_at",)) -> list[dict[str, Any]]:
    """The rows of ``table`` as dicts of JSON-ready values, without the ``drop`` columns."""
    names = [n for n in table.column_names if n not in drop]
    columns = [_column(table.column(n)) for n in names]
    return [dict(zip(names, row)) for row in zip(*columns)]
