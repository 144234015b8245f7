"""The protocol every segmentation kind implements, and what a kind is given to fit.

A *kind* (``rules``, ``audiences``, ``rfm``, ``cluster``, ``hybrid``, ``tiers``...) is
one object that knows three things:

* its **definition**: the pydantic model that validates its ``segmint.yaml`` entry;
* how to **fit** a definition on a feature snapshot into a JSON model document
  (:mod:`segmint.segment.model`), whose ``kind`` field is the kind's ``model_kind``;
* what to do with such a **model document**: the Ibis expression that labels every
  customer, the segment names it can give, the features its explanations read, and the
  kind's own part of ``why`` (from the stored reasons, or computed from a row).

Several definition kinds may share one model kind (``rules``, ``audiences`` and ``rfm``
all fit a ``rules`` model): the first kind registered for a model kind reads its
documents. The service (:mod:`segmint.segment.runs`, :mod:`segmint.segment.explain_run`)
and :mod:`segmint.segment.reasons` only ever call these methods, so a new kind is one
module registered with :func:`segmint.segment.kinds.register`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import ibis.expr.types as ir

if TYPE_CHECKING:
    import pandas as pd
    from pydantic import BaseModel

    from segmint.config import FeatureConfig
    from segmint.segment.rules import RuleSegmentation

__all__ = ["FitContext", "SegmentationKind", "labelled"]

ID = "customer_id"
#: ``resolver(segmentation, segment)`` -> boolean expression, for rules using ``in_segment``.
Resolver = Callable[[str, str], ir.BooleanValue]


@dataclass(frozen=True)
class FitContext:
    """What a kind may read while fitting, besides the definition and the snapshot.

    Attributes
    ----------
    features : segmint.config.FeatureConfig
        The workspace's feature settings (``rfm_bins``...).
    definitions : mapping
        Every definition of the workspace by name (rules check ``in_segment`` names against them).
    resolver : callable or None
        Resolves ``in_segment(...)`` on the same snapshot.
    """

    features: FeatureConfig | None
    definitions: Mapping[str, Any]
    resolver: Resolver | None = None


def labelled(table: ir.Table, segment: ir.Value) -> ir.Table:
    """``customer_id`` and ``segment`` of every row: what :meth:`SegmentationKind.label` returns for one label each."""
    return table.select(table[ID], segment=segment)


class SegmentationKind:
    """One segmentation kind. Subclass it, set the class attributes, implement :meth:`fit` and :meth:`label`.

    The defaults suit an exclusive kind whose model labels every customer with one of
    ``doc["segments"]`` and whose explanation needs nothing beyond the rules (if any).
    """

    #: The ``kind:`` of a definition in segmint.yaml.
    name: str
    #: The ``kind`` field of the model documents it fits (and reads, when it is the first kind registered for it).
    model_kind: ClassVar[str]
    #: The pydantic model a definition of this kind validates with (``extra="forbid"``, a ``kind`` literal).
    definition: ClassVar[type[BaseModel]]
    #: Whether each customer gets one segment at most (False: overlapping audiences).
    exclusive: ClassVar[bool] = True
    #: Whether rules of other segmentations may refer to this one's segments with ``in_segment``.
    referable: ClassVar[bool] = False

    # -- definitions -------------------------------------------------------------------
    def rule_pairs(self, defn: Any) -> list[tuple[str, str]] | None:
        """The definition's ``(segment, where)`` rules, or None for a kind without rules (no attrition)."""
        return None

    def rule_segmentation(self, defn: Any) -> RuleSegmentation | None:
        """The rules other definitions' ``in_segment`` evaluate, when :attr:`referable`."""
        if not self.referable:
            return None
        from segmint.segment.rules import RuleSegmentation

        return RuleSegmentation(self.rule_pairs(defn), else_=getattr(defn, "else_", None), exclusive=self.exclusive)

    # -- fitting -----------------------------------------------------------------------
    def fit(self, defn: Any, table: ir.Table, ctx: FitContext) -> dict[str, Any]:
        """Fit ``defn`` on the snapshot ``table``; return the JSON model document (with its header)."""
        raise NotImplementedError

    # -- model documents ---------------------------------------------------------------
    def label(self, doc: Mapping[str, Any], table: ir.Table, resolver: Resolver | None = None) -> ir.Table:
        """``customer_id`` and ``segment`` for every row of ``table`` (several rows a customer when not exclusive)."""
        raise NotImplementedError

    def is_exclusive(self, doc: Mapping[str, Any]) -> bool:
        """Whether the model gives each customer one segment at most."""
        return self.exclusive

    def segment_names(self, doc: Mapping[str, Any]) -> list[str]:
        """Every label the model can give, in display order."""
        return list(doc["segments"])

    def selection(self, doc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
        """The cluster documents whose k was chosen by evidence, by scope (``"all"``, or a hybrid's segment)."""
        return {}

    def reason_features(self, doc: Mapping[str, Any]) -> list[str]:
        """Features the kind's explanation reads, beyond the rules' (stored with each run's reasons)."""
        return []

    def segmenters(self, doc: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
        """Objects rebuilt once per model for fast explanations (see :class:`segmint.segment.reasons.Plan`)."""
        return ()

    def explain_stored(self, doc: Mapping[str, Any], values: Mapping[str, Any], assigned: Sequence[str],
                       segmenters: Mapping[str, Any]) -> dict[str, Any]:
        """The kind's part of ``why`` from the customer's stored feature ``values`` (``{}``: rules say it all)."""
        return {}

    def explain_computed(self, doc: Mapping[str, Any], row: pd.DataFrame, assigned: Sequence[str]) -> dict[str, Any]:
        """The kind's part of ``why`` from the customer's snapshot ``row`` (a one-row frame).

        Must equal :meth:`explain_stored` for the same customer; by default it is that, on the row's values.
        """
        values = {c: _plain(row[c].iloc[0]) for c in row.columns}
        return self.explain_stored(doc, values, assigned, dict(self.segmenters(doc)))

    def __repr__(self) -> str:
        return f"<segmentation kind {self.name!r}>"


def _plain(value: Any) -> Any:
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value

