"""Type checking of rules against a feature catalog, and compilation to Ibis.

Compilation only builds Ibis expressions (never SQL text), so a rule runs
unchanged on DuckDB and Spark, and a user's string literal is always a bound
value, never code.

Null semantics
--------------
Conditions follow SQL three-valued logic: a comparison with a null feature is
*unknown*; ``not unknown`` is unknown; ``false and unknown`` is false and
``true or unknown`` is true. A customer is selected only when the whole rule is
*true*: unknown does not select. So on a customer whose ``x`` is null, neither
``x > 5`` nor ``not (x > 5)`` selects them; ``x is null`` does. Division by zero
gives null (as Spark and SQL do), not infinity.

Examples
--------
>>> import ibis, pyarrow as pa
>>> t = ibis.memtable(pa.table({"id": [1, 2, 3], "x": [1.0, None, 7.0]}))
>>> sel = compile("not x > 5", t)
>>> ibis.duckdb.connect().to_pyarrow(t.filter(sel))["id"].to_pylist()
[1]
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable, Mapping

import ibis
import ibis.expr.types as ir

from segmint.errors import ConfigError, UnknownNameError, did_you_mean
from segmint.segment.rule_parser import (
    And,
    Between,
    BinOp,
    Compare,
    Expr,
    InList,
    IsNull,
    Literal,
    Membership,
    Name,
    Neg,
    Not,
    Or,
    parse,
)

__all__ = ["KINDS", "SegmentResolver", "catalog_from_schema", "check", "compile", "to_ibis"]

KINDS = ("numeric", "string", "boolean", "date", "timestamp")
_ALIASES = {
    "number": "numeric",
    "int": "numeric",
    "integer": "numeric",
    "float": "numeric",
    "double": "numeric",
    "decimal": "numeric",
    "str": "string",
    "text": "string",
    "category": "string",
    "categorical": "string",
    "bool": "boolean",
    "datetime": "timestamp",
}
SegmentResolver = Callable[[str, str], ir.BooleanValue]


def _kind(kind: str, name: str) -> str:
    k = str(kind).lower()
    k = _ALIASES.get(k, k)
    if k not in KINDS:
        raise ConfigError(f"feature {name!r} has unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    return k


def catalog_from_schema(schema: ibis.Schema) -> dict[str, str]:
    """Map an Ibis schema to a catalog ``{column: kind}``; columns of other types get kind ``"other"``.

    Examples
    --------
    >>> catalog_from_schema(ibis.schema({"a": "int64", "s": "string", "d": "date"}))
    {'a': 'numeric', 's': 'string', 'd': 'date'}
    """
    out = {}
    for name, dtype in schema.items():
        if dtype.is_numeric():  # includes decimals; booleans are not numeric in Ibis
            out[name] = "numeric"
        elif dtype.is_string():
            out[name] = "string"
        elif dtype.is_boolean():
            out[name] = "boolean"
        elif dtype.is_date():
            out[name] = "date"
        elif dtype.is_timestamp():
            out[name] = "timestamp"
        else:
            out[name] = "other"
    return out


def _literal_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "numeric"
    if isinstance(value, str):
        return "string"
    if isinstance(value, _dt.datetime):
        return "timestamp"
    if isinstance(value, _dt.date):
        return "date"
    raise ConfigError(f"unsupported constant {value!r} in a rule")


class _Checker:
    def __init__(self, source: str, catalog: Mapping[str, str], segmentations):
        self.source = source
        self.catalog = {n: (k if k == "other" else _kind(k, n)) for n, k in catalog.items()}
        self.segmentations = segmentations

    def fail(self, message: str, node: Expr) -> ConfigError:
        return ConfigError(f"{message} in {node.to_text()!r} (rule: {self.source!r})")

    def describe(self, node: Expr, kind: str) -> str:
        if isinstance(node, Name):
            return f"feature {node.name!r} ({kind})"
        return f"{node.to_text()} ({kind})"

    def comparable(self, a: str, b: str) -> bool:
        temporal = {"date", "timestamp"}
        return a == b or "null" in (a, b) or (a in temporal and b in temporal)

    def need_comparable(self, node: Expr, parts: list[Expr], ordered: bool) -> None:
        kinds = [self.kind(p) for p in parts]
        for p, k in zip(parts, kinds, strict=True):
            if k == "other":
                raise self.fail(f"{self.describe(p, 'unsupported type')} cannot be compared", node)
            if ordered and k == "boolean":
                raise self.fail(f"{self.describe(p, k)} has no order; use = or !=", node)
        for p, k in zip(parts[1:], kinds[1:], strict=True):
            if not self.comparable(kinds[0], k):
                hint = " (write dates as date '2024-01-31')" if "string" in (kinds[0], k) else ""
                raise self.fail(
                    f"cannot compare {self.describe(parts[0], kinds[0])} with {self.describe(p, k)}{hint}",
                    node,
                )

    def boolean(self, node: Expr) -> None:
        kind = self.kind(node)
        if kind != "boolean":
            raise self.fail(
                f"expected a condition (true/false) but {self.describe(node, kind)} is not one", node
            )

    def kind(self, node: Expr) -> str:
        if isinstance(node, Literal):
            return _literal_kind(node.value)
        if isinstance(node, Name):
            if node.name not in self.catalog:
                raise UnknownNameError(
                    f"unknown feature {node.name!r} in rule {self.source!r}: "
                    + did_you_mean(node.name, self.catalog)
                )
            return self.catalog[node.name]
        if isinstance(node, Neg | BinOp):
            for part in node.children():
                k = self.kind(part)
                if k not in ("numeric", "null"):
                    raise self.fail(f"arithmetic needs numbers but {self.describe(part, k)} is not one", node)
            return "numeric"
        if isinstance(node, Compare):
            if any(isinstance(p, Literal) and p.value is None for p in node.children()):
                raise self.fail("a comparison with null is never true; use 'is null' or 'is not null'", node)
            self.need_comparable(node, [node.left, node.right], ordered=node.op not in ("=", "!="))
            return "boolean"
        if isinstance(node, Between):
            self.need_comparable(node, [node.operand, node.low, node.high], ordered=True)
            return "boolean"
        if isinstance(node, InList):
            self.need_comparable(node, [node.operand, *node.values], ordered=False)
            return "boolean"
        if isinstance(node, IsNull):
            self.kind(node.operand)
            return "boolean"
        if isinstance(node, Membership):
            self.membership(node)
            return "boolean"
        if isinstance(node, Not | And | Or):
            for part in node.children():
                self.boolean(part)
            return "boolean"
        raise ConfigError(f"unsupported rule node {node!r}")  # pragma: no cover

    def membership(self, node: Membership) -> None:
        if self.segmentations is None:
            return
        if node.segmentation not in self.segmentations:
            raise UnknownNameError(
                f"unknown segmentation {node.segmentation!r} in rule {self.source!r}: "
                + did_you_mean(node.segmentation, self.segmentations)
            )
        names = list(self.segmentations[node.segmentation])
        if node.segment not in names:
            raise UnknownNameError(
                f"segmentation {node.segmentation!r} has no segment {node.segment!r}: "
                + did_you_mean(node.segment, names)
            )


def _as_tree(expr: str | Expr) -> Expr:
    return parse(expr) if isinstance(expr, str) else expr


def check(
    expr: str | Expr,
    catalog: Mapping[str, str],
    segmentations: Mapping[str, Iterable[str]] | None = None,
) -> Expr:
    """Check a rule's names and types; return its syntax tree.

    Parameters
    ----------
    expr : str or Expr
        The rule text or an already parsed tree.
    catalog : mapping of str to str
        Feature name to kind: ``"numeric"``, ``"string"``, ``"boolean"``, ``"date"`` or
        ``"timestamp"`` (common aliases such as ``"int"``, ``"float"``, ``"bool"`` are accepted).
    segmentations : mapping of str to iterable of str, optional
        Segmentation name to its segment names; when given, ``in_segment`` references are checked.

    Raises
    ------
    UnknownNameError
        For a feature (or segmentation, segment) that does not exist, with "did you mean".
    ConfigError
        For a syntax error or a type mismatch, naming the feature and its kind.

    Examples
    --------
    >>> check("monetary_total > 10", {"monetary_total": "numeric"}).to_text()
    'monetary_total > 10'
    >>> check("monetary_totl > 10", {"monetary_total": "numeric"})
    Traceback (most recent call last):
    ...
    segmint.errors.UnknownNameError: unknown feature 'monetary_totl' in rule 'monetary_totl > 10': \
did you mean 'monetary_total'?
    """
    tree = _as_tree(expr)
    _Checker(tree.to_text() if not isinstance(expr, str) else expr, catalog, segmentations).boolean(tree)
    return tree


# ---------------------------------------------------------------------------- compilation
def _literal(value: object) -> ir.Value:
    if value is None:
        return ibis.null()
    if isinstance(value, bool):
        return ibis.literal(value, type="boolean")
    if isinstance(value, int):
        # int64, not Ibis' narrowest type: 100 * 100 would overflow an int8 in the engine.
        return ibis.literal(value, type="int64")
    if isinstance(value, float):
        return ibis.literal(value, type="float64")
    return ibis.literal(value)


def _operands(nodes: Iterable[Expr], go: Callable[[Expr], ir.Value]) -> list[ir.Value]:
    """Compile sibling operands, giving a null literal the type of its siblings.

    Ibis cannot add an untyped null to a column, so ``x + null`` needs a typed null.
    """
    nodes = list(nodes)
    values = [go(n) for n in nodes]
    typed = [
        v for n, v in zip(nodes, values, strict=True) if not (isinstance(n, Literal) and n.value is None)
    ]
    # All-null operands (``null + null``) only occur in numeric or comparison contexts.
    dtype = typed[0].type() if typed else "float64"
    values = [v.cast(dtype) if v.type().is_null() else v for v in values]
    return values


def to_ibis(node: Expr, table: ir.Table, segment_resolver: SegmentResolver | None = None) -> ir.Value:
    """Compile one node to an Ibis value with SQL three-valued logic (conditions may be null).

    Use :func:`compile` for a rule: it also checks it and turns unknown into false.
    """

    def go(n: Expr) -> ir.Value:
        return to_ibis(n, table, segment_resolver)

    if isinstance(node, Literal):
        return _literal(node.value)
    if isinstance(node, Name):
        return table[node.name]
    if isinstance(node, Neg):
        return -_operands([node.operand], go)[0]
    if isinstance(node, BinOp):
        left, right = _operands((node.left, node.right), go)
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "*":
            return left * right
        # x / 0 is null everywhere: DuckDB would give inf, Spark null.
        return left / right.nullif(0)
    if isinstance(node, Compare):
        left, right = _operands((node.left, node.right), go)
        ops = {
            "=": left.__eq__,
            "!=": left.__ne__,
            "<": left.__lt__,
            "<=": left.__le__,
            ">": left.__gt__,
            ">=": left.__ge__,
        }
        return ops[node.op](right)
    if isinstance(node, Between):
        operand, low, high = _operands((node.operand, node.low, node.high), go)
        inside = operand.between(low, high)
        return ~inside if node.negated else inside
    if isinstance(node, InList):
        values = [_literal(v.value) for v in node.values]
        operand = go(node.operand)
        return operand.notin(values) if node.negated else operand.isin(values)
    if isinstance(node, IsNull):
        operand = go(node.operand)
        return operand.notnull() if node.negated else operand.isnull()
    if isinstance(node, Membership):
        if segment_resolver is None:
            raise ConfigError(
                f"rule uses {node.to_text()} but no segment resolver was given to look up memberships"
            )
        return ibis.coalesce(segment_resolver(node.segmentation, node.segment), False)
    if isinstance(node, Not):
        return ~go(node.operand)
    if isinstance(node, And | Or):
        parts = [go(i) for i in node.items]
        # Pairwise, so a rule of n conditions nests log2(n) deep rather than n (a left fold of ~1,000
        # conditions overflowed Python's recursion limit inside the SQL compiler); AND and OR are
        # associative in SQL's three-valued logic, so the answer is the same.
        while len(parts) > 1:
            pairs = [(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
            joined = [(a & b) if isinstance(node, And) else (a | b) for a, b in pairs]
            parts = joined + parts[len(pairs) * 2:]
        return parts[0]
    raise ConfigError(f"unsupported rule node {node!r}")  # pragma: no cover


def compile(
    expr: str | Expr,
    table: ir.Table,
    segment_resolver: SegmentResolver | None = None,
) -> ir.BooleanValue:
    """Compile a rule to an Ibis boolean expression over ``table`` that is never null.

    The rule is first checked against the table's columns, so an unknown feature or a
    type mismatch is reported in the rule's terms rather than as an engine error.
    Unknown (null) conditions become false: see the module's null semantics.

    Parameters
    ----------
    expr : str or Expr
        The rule.
    table : ibis.Table
        A table with one column per feature used.
    segment_resolver : callable, optional
        ``segment_resolver(segmentation, segment)`` returns an Ibis boolean expression over
        ``table`` that is true for members; required when the rule uses ``in_segment``.

    Returns
    -------
    ibis.expr.types.BooleanValue
        Use it with ``table.filter(...)`` or ``table.mutate(...)``.
    """
    tree = check(expr, catalog_from_schema(table.schema()))
    return ibis.coalesce(to_ibis(tree, table, segment_resolver), False)
