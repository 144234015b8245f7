"""Tokenizer, syntax tree and recursive-descent parser of the rule language.

Users write rules in ``where:`` fields of ``segmint.yaml``. The text is parsed
here into a small immutable tree; nothing in segmint ever evaluates it with
Python's ``eval`` or pastes it into SQL.

Grammar, lowest precedence first (keywords are case-insensitive)::

    rule       := or_expr EOF            -- IDENT: [A-Za-z_][A-Za-z0-9_]* or `any name`
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | predicate
    predicate  := sum [ cmp_op sum
                      | ["not"] "between" sum "and" sum
                      | ["not"] "in" "(" literal ("," literal)* ")"
                      | "is" ["not"] "null" ]
    cmp_op     := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/") unary)*
    unary      := "-" unary | primary
    primary    := NUMBER | STRING | "true" | "false" | "null"
                | "date" STRING | "timestamp" STRING
                | "in_segment" "(" name "," STRING ")"
                | "segment" "(" name ")" ("=" | "!=" | "<>") STRING
                | "segment" "(" name ")" ["not"] "in" "(" STRING ("," STRING)* ")"
                | IDENT | "(" or_expr ")"

Examples
--------
>>> tree = parse("monetary_total >= 1000 and orders_last_365 >= 6")
>>> tree.to_text()
'monetary_total >= 1000 and orders_last_365 >= 6'
>>> sorted(tree.features())
['monetary_total', 'orders_last_365']
>>> parse("region IN ('North', \\"South\\")").to_text()
"region in ('North', 'South')"
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, fields

from segmint.errors import ConfigError

__all__ = [
    "And",
    "Between",
    "BinOp",
    "Compare",
    "Expr",
    "InList",
    "IsNull",
    "Literal",
    "Membership",
    "Name",
    "Neg",
    "Not",
    "Or",
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_RULE_CHARS",
    "parse",
]

KEYWORDS = frozenset(
    {"and", "or", "not", "between", "in", "is", "null", "true", "false", "date", "timestamp"}
)

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# One regex per token kind, tried in this order at each position.
_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<name>`[^`]+`)
  | (?P<op><=|>=|==|!=|<>|[=<>+\-*/(),])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    """One token: ``kind`` is number/string/ident/keyword/op/eof; ``pos`` is a 0-based offset."""

    kind: str
    text: str
    pos: int


def _error(source: str, pos: int, message: str) -> ConfigError:
    """Build a syntax error that shows the rule and a caret under the column."""
    return ConfigError(f"invalid rule at column {pos + 1}: {message}\n    {source}\n    {' ' * pos}^")


def tokenize(source: str) -> list[Token]:
    """Split ``source`` into tokens, ending with an ``eof`` token.

    Examples
    --------
    >>> [t.text for t in tokenize("x >= 1.5")]
    ['x', '>=', '1.5', '']
    """
    tokens: list[Token] = []
    pos = 0
    while pos < len(source):
        m = _TOKEN_RE.match(source, pos)
        if m is None:
            ch = source[pos]
            hint = {"'": "unterminated string", '"': "unterminated string", "`": "unterminated `name`"}.get(
                ch, f"unexpected character {ch!r}"
            )
            raise _error(source, pos, hint)
        kind = m.lastgroup or ""
        text = m.group()
        if kind == "name":  # `quoted` feature name: never a keyword or a function
            text = text[1:-1]
        if kind == "ident" and text.lower() in KEYWORDS:
            kind, text = "keyword", text.lower()
        after = source[m.end() : m.end() + 1]
        if kind == "number" and (after.isalpha() or after == "_"):
            raise _error(source, m.end(), "a name cannot start with a digit")
        if kind != "ws":
            tokens.append(Token(kind, text, pos))
        pos = m.end()
    tokens.append(Token("eof", "", len(source)))
    return tokens


# ---------------------------------------------------------------------------- syntax tree
# Binding strength used by ``to_text`` to put parentheses only where needed.
_PREC = {"or": 1, "and": 2, "not": 3, "predicate": 4, "sum": 5, "product": 6, "neg": 7, "atom": 8}


class Expr:
    """Base of every node. Nodes are frozen dataclasses, so ``==`` compares trees."""

    prec = _PREC["atom"]

    def to_text(self) -> str:  # pragma: no cover - every node overrides it
        raise NotImplementedError

    def children(self) -> tuple[Expr, ...]:
        """Direct sub-expressions, in source order (read from the dataclass fields)."""
        out: list[Expr] = []
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, Expr):
                out.append(value)
            elif isinstance(value, tuple):
                out.extend(v for v in value if isinstance(v, Expr))
        return tuple(out)

    def features(self) -> list[str]:
        """Names of the features used, in order of first use, without repeats."""
        seen: dict[str, None] = {}
        stack: list[Expr] = [self]
        while stack:
            node = stack.pop()
            if isinstance(node, Name):
                seen.setdefault(node.name)
            stack.extend(reversed(node.children()))
        return list(seen)

    def memberships(self) -> list[tuple[str, str]]:
        """The ``(segmentation, segment)`` pairs this rule refers to."""
        found: list[tuple[str, str]] = []
        stack: list[Expr] = [self]
        while stack:
            node = stack.pop()
            if isinstance(node, Membership) and (node.segmentation, node.segment) not in found:
                found.append((node.segmentation, node.segment))
            stack.extend(reversed(node.children()))
        return found

    def __str__(self) -> str:
        return self.to_text()


def _wrap(node: Expr, min_prec: int) -> str:
    """Text of ``node``, parenthesised when it binds looser than ``min_prec``."""
    text = node.to_text()
    return f"({text})" if node.prec < min_prec else text


@dataclass(frozen=True, eq=False)
class Literal(Expr):
    """A constant: int, float, str, bool, ``None`` (null), ``datetime.date`` or ``datetime.datetime``."""

    value: object

    # Compare the type too: plain dataclass equality would make 1 == 1.0 == true.
    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Literal) and type(self.value) is type(other.value) and self.value == other.value
        )

    def __hash__(self) -> int:
        return hash((type(self.value), self.value))

    def to_text(self) -> str:
        v = self.value
        if v is None:
            return "null"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return "'" + v.replace("'", "''") + "'"
        if isinstance(v, _dt.datetime):
            return f"timestamp '{v.isoformat(sep=' ')}'"
        if isinstance(v, _dt.date):
            return f"date '{v.isoformat()}'"
        return repr(v)

    @property
    def prec(self) -> int:  # type: ignore[override]
        # A negative number reads as unary minus, so it binds like one.
        negative = isinstance(self.value, int | float) and not isinstance(self.value, bool) and self.value < 0
        return _PREC["neg"] if negative else _PREC["atom"]


@dataclass(frozen=True)
class Name(Expr):
    """A reference to a feature (a column of the feature table)."""

    name: str

    def to_text(self) -> str:
        plain = _IDENT_RE.fullmatch(self.name) and self.name.lower() not in KEYWORDS
        return self.name if plain else f"`{self.name}`"


@dataclass(frozen=True)
class Neg(Expr):
    """Unary minus."""

    operand: Expr
    prec = _PREC["neg"]

    def to_text(self) -> str:
        inner = self.operand.to_text()
        # Parenthesise numbers too: "-5" parses back to the literal -5, not to Neg(5).
        if self.operand.prec < _PREC["atom"] or isinstance(self.operand, Literal):
            inner = f"({inner})"
        return "-" + inner


@dataclass(frozen=True)
class BinOp(Expr):
    """Arithmetic: ``op`` is one of ``+ - * /``."""

    op: str
    left: Expr
    right: Expr

    @property
    def prec(self) -> int:  # type: ignore[override]
        return _PREC["sum"] if self.op in "+-" else _PREC["product"]

    def to_text(self) -> str:
        # Left-associative: the right operand needs parentheses at equal precedence.
        return f"{_wrap(self.left, self.prec)} {self.op} {_wrap(self.right, self.prec + 1)}"


@dataclass(frozen=True)
class Compare(Expr):
    """A comparison; ``op`` is normalised to one of ``= != < <= > >=``."""

    op: str
    left: Expr
    right: Expr
    prec = _PREC["predicate"]

    def to_text(self) -> str:
        return f"{_wrap(self.left, _PREC['sum'])} {self.op} {_wrap(self.right, _PREC['sum'])}"


@dataclass(frozen=True)
class Between(Expr):
    """``operand [not] between low and high``, both bounds included."""

    operand: Expr
    low: Expr
    high: Expr
    negated: bool = False
    prec = _PREC["predicate"]

    def to_text(self) -> str:
        kw = "not between" if self.negated else "between"
        parts = [_wrap(e, _PREC["sum"]) for e in (self.operand, self.low, self.high)]
        return f"{parts[0]} {kw} {parts[1]} and {parts[2]}"


@dataclass(frozen=True)
class InList(Expr):
    """``operand [not] in (v1, v2, ...)`` over literal values."""

    operand: Expr
    values: tuple[Literal, ...]
    negated: bool = False
    prec = _PREC["predicate"]

    def to_text(self) -> str:
        kw = "not in" if self.negated else "in"
        items = ", ".join(v.to_text() for v in self.values)
        return f"{_wrap(self.operand, _PREC['sum'])} {kw} ({items})"


@dataclass(frozen=True)
class IsNull(Expr):
    """``operand is [not] null``: the only test that is never unknown."""

    operand: Expr
    negated: bool = False
    prec = _PREC["predicate"]

    def to_text(self) -> str:
        kw = "is not null" if self.negated else "is null"
        return f"{_wrap(self.operand, _PREC['sum'])} {kw}"


@dataclass(frozen=True)
class Membership(Expr):
    """Membership of segment ``segment`` of another segmentation ``segmentation``."""

    segmentation: str
    segment: str

    def to_text(self) -> str:
        seg = Literal(self.segmentation).to_text()
        return f"in_segment({seg}, {Literal(self.segment).to_text()})"


@dataclass(frozen=True)
class Not(Expr):
    """Logical negation (SQL semantics: ``not unknown`` is unknown)."""

    operand: Expr
    prec = _PREC["not"]

    def to_text(self) -> str:
        return "not " + _wrap(self.operand, _PREC["not"])


@dataclass(frozen=True)
class And(Expr):
    """Conjunction of two or more conditions (a chain ``a and b and c`` is one node)."""

    items: tuple[Expr, ...]
    prec = _PREC["and"]

    def to_text(self) -> str:
        # Operands at the same level are wrapped so that explicit grouping survives a round trip.
        return " and ".join(_wrap(i, _PREC["and"] + 1) for i in self.items)


@dataclass(frozen=True)
class Or(Expr):
    """Disjunction of two or more conditions."""

    items: tuple[Expr, ...]
    prec = _PREC["or"]

    def to_text(self) -> str:
        return " or ".join(_wrap(i, _PREC["or"] + 1) for i in self.items)


# ---------------------------------------------------------------------------- parser
_CMP_OPS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def _describe(tok: Token) -> str:
    if tok.kind == "eof":
        return "the end of the rule"
    return f"{tok.kind} {tok.text!r}" if tok.kind != "op" else repr(tok.text)


#: Limits that keep a rule within what the parser and the engine's SQL compiler handle (both recurse over
#: the tree), with errors that say which was passed instead of a RecursionError.
MAX_RULE_CHARS = 20_000
#: Nesting: parentheses, ``not``, unary minus, and each operator of an arithmetic chain (``a + b + c``
#: nests two deep: the engine nests it so).
MAX_DEPTH = 64
#: Conditions, names and values in one rule (a rule of 1,000 conditions compiles in a few seconds).
MAX_NODES = 2_000
#: The largest whole number a rule may hold: the engine's 64-bit integers.
MAX_INT = 2**63 - 1


class _Parser:
    def __init__(self, source: str):
        if len(source) > MAX_RULE_CHARS:
            raise ConfigError(f"a rule may have at most {MAX_RULE_CHARS:,} characters; this one has "
                              f"{len(source):,}. Split it into several segments or use in_segment(...)")
        self.source = source
        self.tokens = tokenize(source)
        if len(self.tokens) > MAX_NODES * 3:  # cheap bound before any recursion
            raise self._too_big(len(self.tokens), "tokens", MAX_NODES * 3)
        self.i = 0
        self.depth = 0

    def _too_big(self, n: int, what: str, limit: int) -> ConfigError:
        return ConfigError(f"rule too large: {n:,} {what}, at most {limit:,} allowed. Split it into several "
                           "segments (in_segment(...) combines them)")

    def nest(self, tok: Token) -> None:
        """Count one more level of nesting at ``tok``; refuse past :data:`MAX_DEPTH`."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _error(self.source, tok.pos, f"the rule nests more than {MAX_DEPTH} levels deep "
                                               "(parentheses, 'not', '-' or a long arithmetic chain); simplify it")

    # -- token helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def at(self, kind: str, *texts: str) -> bool:
        return self.tok.kind == kind and (not texts or self.tok.text in texts)

    def take(self) -> Token:
        tok = self.tok
        self.i += 1
        return tok

    def expect(self, kind: str, text: str | None, what: str) -> Token:
        if self.tok.kind == kind and (text is None or self.tok.text == text):
            return self.take()
        raise self.fail(what)

    def fail(self, expected: str, tok: Token | None = None) -> ConfigError:
        tok = tok or self.tok
        return _error(self.source, tok.pos, f"expected {expected}, found {_describe(tok)}")

    # -- grammar
    def rule(self) -> Expr:
        if self.at("eof"):
            raise self.fail("a condition")
        node = self.or_expr()
        if not self.at("eof"):
            raise self.fail("'and', 'or' or the end of the rule")
        return node

    def or_expr(self) -> Expr:
        items = [self.and_expr()]
        while self.at("keyword", "or"):
            self.take()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Expr:
        items = [self.not_expr()]
        while self.at("keyword", "and"):
            self.take()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_expr(self) -> Expr:
        if self.at("keyword", "not"):
            self.nest(self.take())
            node = Not(self.not_expr())
            self.depth -= 1
            return node
        return self.predicate()

    def predicate(self) -> Expr:
        if self.at("ident") and self.tok.text.lower() == "segment" and self.peek().text == "(":
            return self.segment_test()
        left = self.sum()
        if self.at("op") and self.tok.text in _CMP_OPS:
            op = _CMP_OPS[self.take().text]
            return Compare(op, left, self.sum())
        negated = False
        if self.at("keyword", "not") and self.peek().text in ("between", "in"):
            self.take()
            negated = True
        if self.at("keyword", "between"):
            self.take()
            low = self.sum()
            self.expect("keyword", "and", "'and' between the two bounds")
            return Between(left, low, self.sum(), negated)
        if self.at("keyword", "in"):
            self.take()
            return InList(left, self.literal_list(), negated)
        if self.at("keyword", "is"):
            self.take()
            neg = bool(self.at("keyword", "not") and self.take())
            self.expect("keyword", "null", "'null' after 'is'" + ("" if neg else " or 'is not'"))
            return IsNull(left, neg)
        return left

    def literal_list(self) -> tuple[Literal, ...]:
        self.expect("op", "(", "'(' to start the list of values")
        values = [self.list_literal()]
        while self.at("op", ","):
            self.take()
            values.append(self.list_literal())
        self.expect("op", ")", "',' or ')' in the list of values")
        return tuple(values)

    def list_literal(self) -> Literal:
        tok = self.tok
        node = self.unary()
        if not isinstance(node, Literal):
            raise self.fail("a constant value (number, 'text', true/false or date '...')", tok)
        if node.value is None:
            # x in (1, null) is never true for non-matching rows and "not in" never true at all.
            raise _error(self.source, tok.pos, "null cannot be listed in 'in (...)'; use 'is null'")
        return node

    def segment_test(self) -> Expr:
        self.take()  # segment
        self.expect("op", "(", "'('")
        seg = self.segmentation_name()
        self.expect("op", ")", "')' after the segmentation name")
        if self.at("op", "=", "==", "!=", "<>"):
            negated = self.take().text in ("!=", "<>")
            node: Expr = Membership(seg, self.string("a segment name in quotes"))
            return Not(node) if negated else node
        negated = bool(self.at("keyword", "not") and self.take())
        if not self.at("keyword", "in"):
            raise self.fail("'=', '!=' or 'in' after segment(...)")
        self.take()
        self.expect("op", "(", "'(' to start the list of segment names")
        names = [self.string("a segment name in quotes")]
        while self.at("op", ","):
            self.take()
            names.append(self.string("a segment name in quotes"))
        self.expect("op", ")", "',' or ')' in the list of segment names")
        members = [Membership(seg, n) for n in names]
        node = members[0] if len(members) == 1 else Or(tuple(members))
        return Not(node) if negated else node

    def segmentation_name(self) -> str:
        if self.at("ident") or self.at("name"):
            return self.take().text
        if self.at("string"):
            return self.string("a segmentation name")
        raise self.fail("a segmentation name")

    def string(self, what: str) -> str:
        tok = self.expect("string", None, what)
        quote = tok.text[0]
        return tok.text[1:-1].replace(quote * 2, quote)

    def sum(self) -> Expr:
        return self._chain(self.product, ("+", "-"))

    def product(self) -> Expr:
        return self._chain(self.unary, ("*", "/"))

    def _chain(self, operand, ops: tuple[str, ...]) -> Expr:
        """A left-associative chain ``a op b op c``: each operator nests the tree one level deeper."""
        start = self.depth
        node = operand()
        while self.at("op", *ops):
            tok = self.take()
            self.nest(tok)
            node = BinOp(tok.text, node, operand())
        self.depth = start
        return node

    def unary(self) -> Expr:
        if self.at("op", "-"):
            tok = self.take()
            if self.at("number"):  # fold "-5" into the literal -5
                value = self._number(self.take())
                return Literal(-value)
            self.nest(tok)
            node = Neg(self.unary())
            self.depth -= 1
            return node
        return self.primary()

    def _number(self, tok: Token) -> int | float:
        text = tok.text
        if any(c in text for c in ".eE"):
            value = float(text)
            if value != value or value in (float("inf"), float("-inf")):
                raise _error(self.source, tok.pos, f"the number {text} is too large (a rule's numbers must be "
                                                   "finite, below about 1.8e308)")
            return value
        value = int(text)
        if value > MAX_INT:
            raise _error(self.source, tok.pos, f"the whole number {text[:24]}{'...' if len(text) > 24 else ''} "
                                               f"is too large: at most {MAX_INT:,} (write it with a decimal "
                                               "point, e.g. 1e30, for a larger value)")
        return value

    def primary(self) -> Expr:
        tok = self.tok
        if tok.kind == "number":
            self.take()
            return Literal(self._number(tok))
        if tok.kind == "string":
            return Literal(self.string("a string"))
        if tok.kind == "keyword" and tok.text in ("true", "false", "null"):
            self.take()
            return Literal({"true": True, "false": False, "null": None}[tok.text])
        if tok.kind == "keyword" and tok.text in ("date", "timestamp"):
            self.take()
            at = self.tok
            text = self.string(f"a quoted {tok.text} such as {tok.text} '2024-01-31'")
            try:
                if tok.text == "date":
                    return Literal(_dt.date.fromisoformat(text))
                return Literal(_dt.datetime.fromisoformat(text))
            except ValueError:
                raise _error(
                    self.source, at.pos, f"{text!r} is not a valid {tok.text} (use YYYY-MM-DD)"
                ) from None
        if tok.kind == "ident" and tok.text.lower() == "in_segment" and self.peek().text == "(":
            self.take()
            self.take()
            seg = self.segmentation_name()
            self.expect("op", ",", "',' between the segmentation and the segment name")
            name = self.string("a segment name in quotes")
            self.expect("op", ")", "')'")
            return Membership(seg, name)
        if tok.kind in ("ident", "name"):
            self.take()
            if self.at("op", "("):
                raise self.fail("an operator; the only functions are in_segment(...) and segment(...)")
            return Name(tok.text)
        if tok.kind == "op" and tok.text == "(":
            self.nest(self.take())
            node = self.or_expr()
            self.expect("op", ")", "')'")
            self.depth -= 1
            return node
        raise self.fail("a feature name, a value or '('")


def parse(source: str) -> Expr:
    """Parse a rule into its syntax tree.

    Parameters
    ----------
    source : str
        The rule as the user wrote it, e.g. ``"recency_days between 90 and 180"``.

    Returns
    -------
    Expr
        The root node; ``root.to_text()`` gives a canonical text that parses back to it.

    Raises
    ------
    ConfigError
        On a syntax error, with the rule, a caret under the column and what was expected.

    Examples
    --------
    >>> parse("NOT a > 1 AND b < 2")
    And(items=(Not(operand=Compare(op='>', left=Name(name='a'), right=Literal(value=1))), \
Compare(op='<', left=Name(name='b'), right=Literal(value=2))))
    >>> try:
    ...     parse("a >")
    ... except ConfigError as err:
    ...     print(err)
    invalid rule at column 4: expected a feature name, a value or '(', found the end of the rule
        a >
           ^
    """
    if not isinstance(source, str):
        raise ConfigError(f"a rule must be text, got {type(source).__name__}: {source!r}")
    parser = _Parser(source)
    tree = parser.rule()
    nodes = _count_nodes(tree)
    if nodes > MAX_NODES:
        raise parser._too_big(nodes, "conditions, names and values", MAX_NODES)
    return tree


def _count_nodes(tree: Expr) -> int:
    """Nodes of the tree, counted without recursion."""
    count, stack = 0, [tree]
    while stack:
        node = stack.pop()
        count += 1
        stack.extend(node.children())
    return count
