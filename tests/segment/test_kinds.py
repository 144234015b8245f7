"""The kinds registry: built-in kinds, "did you mean", and a new kind added without touching any other module."""

from __future__ import annotations

from typing import Any, Literal

import ibis
import pytest
from pydantic import BaseModel, ConfigDict

from segmint.errors import ConfigError, UnknownNameError
from segmint.segment import kinds, runs
from segmint.segment.kinds.base import FitContext, SegmentationKind, labelled

from .test_service import AS_OF, LIFECYCLE, small_shop


def test_builtin_kinds_are_registered():
    assert set(kinds.names()) >= {"rules", "audiences", "rfm", "cluster", "hybrid", "tiers"}
    assert runs.MODEL_KINDS == kinds.model_kinds()
    assert set(runs.MODEL_KINDS) == {"rules", "cluster", "hybrid", "tiers"}
    assert kinds.for_model("rules") is kinds.get("rules")  # rules, audiences and rfm: one model kind
    assert kinds.get("rfm").model_kind == kinds.get("audiences").model_kind == "rules"
    assert not kinds.get("audiences").exclusive and kinds.get("tiers").exclusive


def test_unknown_kinds_get_suggestions():
    with pytest.raises(UnknownNameError, match=r"unknown segmentation kind 'tier'; did you mean 'tiers'\?"):
        kinds.get("tier")
    with pytest.raises(ConfigError, match=r"model document of unknown kind 'clusters'; did you mean 'cluster'\?"):
        kinds.for_model({"kind": "clusters"})
    with pytest.raises(ConfigError, match="registered already"):
        kinds.register(kinds.get("tiers"))


# -- a toy kind, defined here only -----------------------------------------------------------------
class HalvesDef(BaseModel):
    """``kind: halves``: customers below and at-or-above the median of one feature."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["halves"]
    feature: str
    description: str | None = None

    def segment_names(self) -> list[str]:
        return ["low", "high"]


class HalvesKind(SegmentationKind):
    name = "halves"
    model_kind = "halves"
    definition = HalvesDef

    def fit(self, defn: Any, table, ctx: FitContext) -> dict[str, Any]:
        from segmint.segment import model as docs

        median = float(table[defn.feature].cast("float64").median().to_pyarrow().as_py())
        return docs.to_jsonable({**docs.model_header("halves"), "feature": defn.feature, "cut": median,
                                 "segments": ["low", "high"]})

    def label(self, doc, table, resolver=None):
        x = table[doc["feature"]].cast("float64")
        return labelled(table, ibis.cases((x < doc["cut"], "low"), else_="high"))

    def reason_features(self, doc) -> list[str]:
        return [doc["feature"]]

    def explain_stored(self, doc, values, assigned, segmenters) -> dict[str, Any]:
        return {"halves": {"feature": doc["feature"], "value": values.get(doc["feature"]), "cut": doc["cut"]}}


@pytest.fixture
def halves():
    kind = kinds.register(HalvesKind())
    yield kind
    kinds.unregister("halves")
    assert "halves" not in kinds.names() and "halves" not in kinds.model_kinds()


def test_a_new_kind_runs_through_the_workspace(ws, halves):
    small_shop(ws, {"split": {"kind": "halves", "feature": "monetary_total"}, "life": LIFECYCLE})
    result = ws.segment("split", as_of=AS_OF)
    # C01..C12 spend 25 * i * i, C13 nothing: the median of the 13 is C06's 900
    assert (result.kind, result.version, result.model["kind"]) == ("halves", 1, "halves")
    assert result.sizes == {"low": 6, "high": 7}
    assert result.labels[["C05", "C06", "C13"]].tolist() == ["low", "high", "low"]
    assert "halves" in runs.MODEL_KINDS
    # stored, versioned, listed and read back like any other kind
    assert ws.segment("split", as_of=AS_OF).version == 1 and not ws.stored_run("split", AS_OF).fitted
    info = {i.name: i for i in ws.segmentations()}["split"]
    assert (info.kind, info.segments, info.versions, info.runs) == ("halves", ["low", "high"], [1], 1)
    assert [r["customer_id"] for r in ws.members("split", "high").to_pyarrow().to_pylist()] == [
        f"C{i:02d}" for i in range(6, 13)]
    with pytest.raises(UnknownNameError, match="did you mean 'high'"):
        ws.members("split", "hihg")
    # the stored reasons carry what the kind's explanation reads
    why = ws.why("split", "C06", as_of=AS_OF)
    assert why.segments == ["high"] and why.rules is None
    assert why.to_dict()["halves"] == {"feature": "monetary_total", "value": 900.0, "cut": 900.0}
    assert ws.history("split").frame["size"].sum() == 13
    with pytest.raises(ConfigError, match="attrition applies to rule segments"):
        ws.attrition("split", AS_OF)


def test_a_definition_of_an_unregistered_kind_is_refused(ws):
    small_shop(ws, {"split": {"kind": "halvs", "feature": "monetary_total"}})
    with pytest.raises(ConfigError, match=r"segmentation 'split': unknown kind 'halvs'"):
        ws.segment("split", as_of=AS_OF)
