"""Rule segments: a small expression language, checked, compiled to Ibis, explained.

A rule is what users write in a ``where:`` field of ``segmint.yaml``::

    monetary_total >= 1000 and orders_last_365 >= 6
    recency_days between 90 and 180 and frequency >= 3
    region in ('North', 'South') or industry is null
    not promo_share > 0.5 and monetary_total / frequency > 50
    in_segment('lifecycle', 'VIP')          -- or: segment(lifecycle) = 'VIP'

The grammar is in :mod:`segmint.segment.rule_parser`; null semantics (SQL
three-valued logic, unknown does not select) in :mod:`segmint.segment.rule_compile`.
Rules only ever become Ibis expressions, never SQL text, so they run on DuckDB
and Spark alike and a quoted value can never turn into code.

Examples
--------
>>> import ibis, pyarrow as pa
>>> t = ibis.memtable(pa.table({"id": [1, 2, 3], "spend": [50.0, 500.0, 5000.0], "orders": [1, 4, 9]}))
>>> seg = RuleSegmentation([("VIP", "spend >= 1000"), ("Regular", "orders >= 3")], else_="Other")
>>> seg.assign(t, "id").order_by("id").to_pyarrow()["segment"].to_pylist()
['Other', 'Regular', 'VIP']
>>> steps = attrition("spend > 100 and orders > 5", t)
>>> steps[["condition", "kept_alone", "kept_cumulative"]].values.tolist()
[['spend > 100', 2, 2], ['orders > 5', 1, 1]]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from segmint.errors import ConfigError, DataError, UnknownNameError, did_you_mean
from segmint.segment.rule_compile import SegmentResolver, catalog_from_schema, check, compile, to_ibis
from segmint.segment.rule_parser import And, Expr, Not, Or, parse

__all__ = [
    "RuleSegmentation",
    "Segment",
    "attrition",
    "check",
    "compile",
    "conjuncts",
    "explain",
    "parse",
    "resolver_for",
]


def _tree(expr: str | Expr) -> Expr:
    return parse(expr) if isinstance(expr, str) else expr


def conjuncts(expr: str | Expr) -> list[Expr]:
    """The top-level AND conditions of a rule, in order (nested ``(a and b) and c`` flattened).

    Examples
    --------
    >>> [c.to_text() for c in conjuncts("a > 1 and (b < 2 and c = 3)")]
    ['a > 1', 'b < 2', 'c = 3']
    """
    tree = _tree(expr)
    if not isinstance(tree, And):
        return [tree]
    return [c for item in tree.items for c in conjuncts(item)]


def attrition(
    expr: str | Expr, table: ir.Table, segment_resolver: SegmentResolver | None = None
) -> pd.DataFrame:
    """How many customers each top-level AND condition keeps, alone and cumulatively.

    All counts come from one aggregate query in the engine (sums of case expressions),
    not one query per condition.

    Parameters
    ----------
    expr : str or Expr
        The rule.
    table : ibis.Table
        One row per customer, one column per feature.
    segment_resolver : callable, optional
        As for :func:`compile`, when the rule uses ``in_segment``.

    Returns
    -------
    pandas.DataFrame
        One row per condition: ``condition`` (text), ``kept_alone``, ``kept_cumulative``,
        ``dropped`` (by this step), ``share_of_base`` (cumulative / all customers; NaN for an
        empty table). ``df.attrs["base"]`` holds the number of customers.
    """
    tree = check(expr, catalog_from_schema(table.schema()))
    parts = conjuncts(tree)
    conds = [ibis.coalesce(to_ibis(p, table, segment_resolver), False) for p in parts]
    metrics = {"base": table.count()}
    running = None
    for i, cond in enumerate(conds):
        running = cond if running is None else running & cond
        metrics[f"alone_{i}"] = ibis.ifelse(cond, 1, 0).sum()
        metrics[f"cum_{i}"] = ibis.ifelse(running, 1, 0).sum()
    row = table.aggregate(**metrics).to_pyarrow().to_pylist()[0]
    base = int(row["base"] or 0)
    rows = []
    previous = base
    for i, part in enumerate(parts):
        cum = int(row[f"cum_{i}"] or 0)  # a sum over no rows is null
        rows.append(
            {
                "condition": part.to_text(),
                "kept_alone": int(row[f"alone_{i}"] or 0),
                "kept_cumulative": cum,
                "dropped": previous - cum,
                "share_of_base": cum / base if base else float("nan"),
            }
        )
        previous = cum
    df = pd.DataFrame(
        rows, columns=["condition", "kept_alone", "kept_cumulative", "dropped", "share_of_base"]
    )
    df.attrs["base"] = base
    return df


def _explain_nodes(node: Expr, depth: int, out: list[tuple[int, Expr]]) -> None:
    # Descend through the logic (and/or/not) down to the predicates that hold values.
    out.append((depth, node))
    if isinstance(node, And | Or | Not):
        for child in node.children():
            _explain_nodes(child, depth + 1, out)


def _id_value(customer_id: object, dtype, id_column: str) -> ir.Value:
    """The id as a literal of the column's type: a CLI passes ids as text even when they are numbers."""
    if dtype.is_integer() and isinstance(customer_id, str):
        try:
            return ibis.literal(int(customer_id), type=dtype)
        except ValueError:
            raise UnknownNameError(
                f"customer {customer_id!r} not found: column {id_column!r} holds whole numbers"
            ) from None
    if dtype.is_string() and not isinstance(customer_id, str):
        return ibis.literal(str(customer_id))
    return ibis.literal(customer_id, type=dtype)


def explain(
    expr: str | Expr,
    table: ir.Table,
    id_column: str,
    customer_id: object,
    segment_resolver: SegmentResolver | None = None,
) -> pd.DataFrame:
    """Why a rule does or does not select one customer.

    Parameters
    ----------
    expr : str or Expr
        The rule.
    table : ibis.Table
        One row per customer.
    id_column : str
        The customer id column.
    customer_id : object
        The customer to explain.
    segment_resolver : callable, optional
        As for :func:`compile`.

    Returns
    -------
    pandas.DataFrame
        One row per condition in pre-order (the whole rule first, then its and/or/not
        operands, nested): ``depth``, ``condition`` (text), ``values`` (dict of the features it
        uses to this customer's values) and ``held`` (True, False, or None when unknown
        because of a null). The rule selects the customer exactly when row 0 holds True.

    Raises
    ------
    UnknownNameError
        When the id column or the customer does not exist.

    Examples
    --------
    >>> import ibis, pyarrow as pa
    >>> t = ibis.memtable(pa.table({"id": [7], "spend": [50.0], "region": [None]}, \
schema=pa.schema([("id", pa.int64()), ("spend", pa.float64()), ("region", pa.string())])))
    >>> why = explain("spend > 10 and region = 'North'", t, "id", 7)
    >>> why[["depth", "condition", "held"]].values.tolist()
    [[0, "spend > 10 and region = 'North'", None], [1, 'spend > 10', True], [1, "region = 'North'", None]]
    >>> why["values"][2]
    {'region': None}
    """
    tree = check(expr, catalog_from_schema(table.schema()))
    if id_column not in table.columns:
        raise UnknownNameError(f"no id column {id_column!r}: " + did_you_mean(id_column, table.columns))
    nodes: list[tuple[int, Expr]] = []
    _explain_nodes(tree, 0, nodes)
    features = tree.features()
    key = _id_value(customer_id, table[id_column].type(), id_column)
    one = table.filter(table[id_column] == key)
    cols = {f"f{i}": one[name] for i, name in enumerate(features)}
    cols.update({f"n{i}": to_ibis(node, one, segment_resolver) for i, (_, node) in enumerate(nodes)})
    rows = one.select(**cols).limit(2).to_pyarrow().to_pylist()
    if not rows:
        raise UnknownNameError(f"customer {customer_id!r} not found in column {id_column!r}")
    if len(rows) > 1:
        raise DataError(f"customer {customer_id!r} appears more than once in column {id_column!r}")
    row = rows[0]
    value_of = {name: row[f"f{i}"] for i, name in enumerate(features)}
    out = [
        {
            "depth": depth,
            "condition": node.to_text(),
            "values": {f: value_of[f] for f in node.features()},
            "held": row[f"n{i}"],
        }
        for i, (depth, node) in enumerate(nodes)
    ]
    df = pd.DataFrame(out, columns=["depth", "condition", "values", "held"])
    df["held"] = df["held"].astype(object)  # keep None (unknown) distinct from False
    return df


@dataclass(frozen=True)
class Segment:
    """One named rule of a :class:`RuleSegmentation`."""

    name: str
    rule: Expr

    @property
    def where(self) -> str:
        """The rule's canonical text."""
        return self.rule.to_text()


class RuleSegmentation:
    """Named rule segments, either exclusive (first match wins) or overlapping audiences.

    Parameters
    ----------
    segments : iterable of (name, where) pairs, or mapping of name to where
        In priority order; ``where`` is rule text or a parsed :class:`Expr`.
    else_ : str, optional
        Name given to customers no rule selects (exclusive), or of an extra audience of
        them (overlapping). ``None``: such customers get null / no extra column.
    exclusive : bool, default True
        True: each customer gets the first segment whose rule holds, in the given order.
        False: audiences, one boolean per segment, which may overlap.
    """

    def __init__(self, segments, else_: str | None = None, exclusive: bool = True):
        items = list(segments.items()) if isinstance(segments, Mapping) else list(segments)
        if not items:
            raise ConfigError("a rule segmentation needs at least one segment")
        parsed: list[Segment] = []
        for item in items:
            try:
                name, where = item
            except (TypeError, ValueError):
                raise ConfigError(f"each segment must be a (name, where) pair, got {item!r}") from None
            if not isinstance(name, str) or not name.strip():
                raise ConfigError(f"a segment name must be non-empty text, got {name!r}")
            if where is None or (isinstance(where, str) and not where.strip()):
                raise ConfigError(f"segment {name!r} has an empty 'where'; write the rule that selects it")
            try:
                rule = _tree(where)
            except ConfigError as err:
                raise ConfigError(f"segment {name!r}: {err}") from None
            parsed.append(Segment(name, rule))
        if else_ is not None and (not isinstance(else_, str) or not else_.strip()):
            raise ConfigError(f"'else' must be a non-empty segment name or left out, got {else_!r}")
        names = [s.name for s in parsed] + ([else_] if else_ is not None else [])
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"segment names must be unique; repeated: {', '.join(map(repr, dupes))}")
        self.segments = tuple(parsed)
        self.else_ = else_
        self.exclusive = bool(exclusive)

    def __repr__(self) -> str:
        return (
            f"RuleSegmentation({[(s.name, s.where) for s in self.segments]!r}, "
            f"else_={self.else_!r}, exclusive={self.exclusive!r})"
        )

    @property
    def names(self) -> list[str]:
        """Segment names in order, ``else_`` last when set."""
        return [s.name for s in self.segments] + ([self.else_] if self.else_ is not None else [])

    def features(self) -> list[str]:
        """Features used by any rule, in order of first use."""
        return list(dict.fromkeys(f for s in self.segments for f in s.rule.features()))

    def check(self, catalog: Mapping[str, str], segmentations=None) -> RuleSegmentation:
        """Check every rule against a feature catalog (see :func:`check`); return self."""
        for s in self.segments:
            try:
                check(s.rule, catalog, segmentations)
            except UnknownNameError as err:
                raise UnknownNameError(f"segment {s.name!r}: {err}") from None
            except ConfigError as err:
                raise ConfigError(f"segment {s.name!r}: {err}") from None
        return self

    def compile(self, table: ir.Table, segment_resolver: SegmentResolver | None = None):
        """Compile to Ibis.

        Returns
        -------
        ibis.expr.types.StringValue or dict of str to ibis.expr.types.BooleanValue
            Exclusive: the segment name of each customer (``else_``, or null when unset).
            Audiences: one never-null boolean per segment (and per ``else_`` when set).
        """
        self.check(catalog_from_schema(table.schema()))
        conds = {s.name: compile(s.rule, table, segment_resolver) for s in self.segments}
        if self.exclusive:
            other = ibis.literal(self.else_, type="string") if self.else_ is not None else ibis.null("string")
            return ibis.cases(*[(c, ibis.literal(n, type="string")) for n, c in conds.items()], else_=other)
        if self.else_ is not None:
            any_ = None
            for c in conds.values():
                any_ = c if any_ is None else any_ | c
            conds[self.else_] = ~any_
        return {n: c.name(n) for n, c in conds.items()}

    def assign(
        self,
        table: ir.Table,
        id_column: str,
        segment_resolver: SegmentResolver | None = None,
        column: str = "segment",
    ) -> ir.Table:
        """A table of ``id_column`` plus the segment column (exclusive) or one column per audience."""
        if id_column not in table.columns:
            raise UnknownNameError(f"no id column {id_column!r}: " + did_you_mean(id_column, table.columns))
        compiled = self.compile(table, segment_resolver)
        if self.exclusive:
            return table.select(table[id_column], **{column: compiled})
        if id_column in compiled:
            raise ConfigError(f"audience name {id_column!r} clashes with the id column; rename the audience")
        return table.select(table[id_column], **compiled)

    def to_dict(self) -> dict:
        """A JSON-ready definition; :meth:`from_dict` reads it back."""
        return {
            "kind": "rules",
            "exclusive": self.exclusive,
            "else": self.else_,
            "segments": [{"name": s.name, "where": s.where} for s in self.segments],
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> RuleSegmentation:
        """Build from :meth:`to_dict` output (or the same shape written in YAML)."""
        try:
            segs = [(d["name"], d["where"]) for d in data["segments"]]
        except (KeyError, TypeError) as err:
            raise ConfigError(
                f"a rule segmentation needs 'segments' with 'name' and 'where': {err}"
            ) from None
        return cls(segs, else_=data.get("else"), exclusive=data.get("exclusive", True))


def resolver_for(segmentations: Mapping[str, RuleSegmentation], table: ir.Table) -> SegmentResolver:
    """A segment resolver that evaluates other rule segmentations on the same table.

    Cycles (a segmentation that refers to itself through others) raise ConfigError.

    Examples
    --------
    >>> import ibis, pyarrow as pa
    >>> t = ibis.memtable(pa.table({"id": [1, 2], "spend": [10.0, 900.0], "region": ["N", "N"]}))
    >>> life = RuleSegmentation([("VIP", "spend > 500")], else_="Other")
    >>> resolver = resolver_for({"lifecycle": life}, t)
    >>> sel = compile("in_segment('lifecycle', 'VIP') and region = 'N'", t, resolver)
    >>> t.filter(sel).to_pyarrow()["id"].to_pylist()
    [2]
    """
    active: list[str] = []

    def resolve(segmentation: str, segment: str) -> ir.BooleanValue:
        if segmentation not in segmentations:
            raise UnknownNameError(
                f"unknown segmentation {segmentation!r}: " + did_you_mean(segmentation, segmentations)
            )
        seg = segmentations[segmentation]
        if segment not in seg.names:
            raise UnknownNameError(
                f"segmentation {segmentation!r} has no segment {segment!r}: "
                + did_you_mean(segment, seg.names)
            )
        if segmentation in active:
            raise ConfigError(
                "segment rules refer to each other in a cycle: " + " -> ".join([*active, segmentation])
            )
        active.append(segmentation)
        try:
            compiled = seg.compile(table, resolve)
        finally:
            active.pop()
        if seg.exclusive:
            return ibis.coalesce(compiled == segment, False)
        return compiled[segment]

    return resolve
