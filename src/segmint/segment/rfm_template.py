"""The built-in RFM segments, as a rules template users can print, copy and edit.

The eleven named segments are the classic RFM grid: recency score (``r_score``, 5 is
most recent) against the frequency and monetary scores together (``f_score + m_score``,
2 to 10). The rules below tile the 5 x 9 grid completely, so every customer with
purchases gets exactly one named segment; customers without purchases have no scores
(null) and fall to ``else`` ("No purchases"). ``kind: rfm`` uses this template as it is;
``segmint segment --template rfm`` prints it as a ``kind: rules`` definition to edit.

The template assumes scores 1..5 (``features.rfm_bins: 5``, the default).

Grid (first match wins, top to bottom)::

    r_score   f_score + m_score:  2-4            5-7              8           9-10
    5                             New (2)        Potential loyalist           Champions
    4                             Promising (2)  Potential loyalist           Loyal
    3                             About to sleep Need attention   Loyal       Loyal
    2                             Hibernating    At risk          At risk     Can't lose them (9+)
    1                             Lost           At risk          At risk     Can't lose them (9+)

Examples
--------
>>> [name for name, _ in rfm_segments()][:3]
['Champions', 'Loyal', "Can't lose them"]
>>> print(template_yaml().splitlines()[0])
# The built-in RFM segments (kind: rfm). Paste under `segmentations:` in segmint.yaml,
"""

from __future__ import annotations

import yaml

from segmint.errors import UnknownNameError, did_you_mean

__all__ = ["RFM_BINS", "RFM_ELSE", "RFM_SEGMENTS", "TEMPLATES", "rfm_segments", "template", "template_yaml"]

#: Scores the template is written for.
RFM_BINS = 5
#: Label of customers without purchases (their scores are null).
RFM_ELSE = "No purchases"

#: (name, rule, description) in priority order.
RFM_SEGMENTS: tuple[tuple[str, str, str], ...] = (
    ("Champions", "r_score = 5 and f_score + m_score >= 8",
     "Bought recently, buy often and spend the most."),
    ("Loyal", "r_score >= 3 and f_score + m_score >= 8",
     "Buy often and spend well; responsive to loyalty programmes."),
    ("Can't lose them", "r_score <= 2 and f_score + m_score >= 9",
     "Used to be among the best customers but have not come back for a long time."),
    ("At risk", "r_score <= 2 and f_score + m_score >= 5",
     "Spent and bought fairly often, but long ago."),
    ("New", "r_score = 5 and f_score + m_score <= 2",
     "Bought very recently, for the first time and little."),
    ("Promising", "r_score = 4 and f_score + m_score <= 2",
     "Recent first-time buyers who spent little."),
    ("Potential loyalist", "r_score >= 4",
     "Recent customers with average frequency and spend."),
    ("Need attention", "r_score = 3 and f_score + m_score >= 5",
     "Above-average frequency and spend, but not recent."),
    ("About to sleep", "r_score = 3",
     "Below-average recency, frequency and spend; will be lost without re-activation."),
    ("Hibernating", "r_score = 2",
     "Last bought long ago, bought little and rarely."),
    ("Lost", "r_score = 1",
     "Lowest recency, frequency and spend."),
)


def rfm_segments() -> list[tuple[str, str]]:
    """The template's ``(name, where)`` pairs in priority order."""
    return [(name, where) for name, where, _ in RFM_SEGMENTS]


def template(name: str = "rfm") -> dict:
    """The template as a ``kind: rules`` definition mapping (what ``--template`` prints)."""
    if name not in TEMPLATES:
        raise UnknownNameError(f"no template {name!r}; {did_you_mean(name, TEMPLATES)}")
    return {
        "kind": "rules",
        "description": "RFM segments: recency score against frequency + monetary scores (1..5 each)",
        "segments": [{"name": n, "where": w, "description": d} for n, w, d in RFM_SEGMENTS],
        "else": RFM_ELSE,
    }


def template_yaml(name: str = "rfm", segmentation: str = "rfm") -> str:
    """The template as YAML text, ready to paste under ``segmentations:``."""
    body = yaml.safe_dump({segmentation: template(name)}, sort_keys=False, allow_unicode=True, width=110)
    header = (
        "# The built-in RFM segments (kind: rfm). Paste under `segmentations:` in segmint.yaml,\n"
        f"# or save as segments/{segmentation}.yaml, then edit the rules. First match wins; scores run 1..5.\n"
    )
    return header + body


TEMPLATES = {"rfm": RFM_SEGMENTS}
