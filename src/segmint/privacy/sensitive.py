"""The sensitive-attribute policy: rules, clustering features and lookalike models refuse protected attributes
unless the segmentation declares an allowed purpose.

``privacy.sensitive`` in ``segmint.yaml`` lists the attributes (by default age, gender,
ethnicity, religion, health) and the columns the user names; a feature counts when it is
named so or starts with ``<name>_`` (``age_band``). A segmentation may use one only when its
``purpose:`` is listed in ``privacy.sensitive.purposes``; the allowance is then written to
the audit log (action ``sensitive-allowed``). :func:`check_features` is the check for any
model that takes a feature list (lookalike models call it with theirs).

Examples
--------
>>> from segmint.config import SensitiveConfig
>>> policy = SensitiveConfig(purposes=["age-verification"])
>>> used_sensitive({"kind": "rules", "segments": [{"name": "Seniors", "where": "age_band == '65+'"},
...                                               {"name": "Big", "where": "monetary_total > 100"}]}, policy)
['age_band']
>>> check_features("segmentation 'x'", ["age", "frequency"], None, policy)
Traceback (most recent call last):
...
segmint.privacy.sensitive.SensitiveAttributeError: segmentation 'x' uses the sensitive attribute 'age' (privacy.sensitive.attributes in segmint.yaml). Remove it, or declare why: set `purpose:` on the segmentation to one of privacy.sensitive.purposes (now: age-verification).
>>> check_features("segmentation 'x'", ["age"], "age-verification", policy)
['age']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from segmint.errors import ConfigError

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Keys of a definition whose text names no feature (labels and prose).
_PROSE = {"description", "name", "else", "labels", "missing", "purpose", "kind", "by"}


class SensitiveAttributeError(ConfigError):
    """A segmentation or model uses a sensitive attribute without an allowed purpose."""


def sensitive_names(policy) -> list[str]:
    """The attribute names the policy protects (its attributes and the user's columns)."""
    return list(dict.fromkeys([*policy.attributes, *policy.columns]))


def is_sensitive(feature: str, policy) -> str | None:
    """The protected attribute ``feature`` carries (itself, or ``<attribute>_...``), or None.

    Examples
    --------
    >>> from segmint.config import SensitiveConfig
    >>> is_sensitive("age_band", SensitiveConfig()), is_sensitive("average_spend", SensitiveConfig())
    ('age', None)
    """
    for name in sensitive_names(policy):
        if feature == name or feature.startswith(name + "_"):
            return name
    return None


def _tokens(node: Any, key: str | None = None) -> Iterable[str]:
    if key in _PROSE:
        return
    if isinstance(node, Mapping):
        for k, v in node.items():
            yield from _tokens(v, str(k))
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from _tokens(v, key)
    elif isinstance(node, str):
        yield from _TOKEN.findall(node)


#: Feature families that hold customer attributes: clustering on them clusters on every protected one.
ATTRIBUTE_FAMILIES = ("demographic", "attribute")


def _families(node: Any) -> Iterable[str]:
    if isinstance(node, Mapping):
        for k, v in node.items():
            if k == "families" and isinstance(v, list):
                yield from (str(f) for f in v)
            else:
                yield from _families(v)
    elif isinstance(node, list):
        for v in node:
            yield from _families(v)


def used_sensitive(definition: Mapping[str, Any], policy) -> list[str]:
    """The sensitive features a definition names (in rules, feature lists, a tier's feature), sorted.

    A cluster on the ``demographic`` or ``attribute`` family uses every protected attribute.
    """
    found = {t for t in _tokens(definition) if is_sensitive(t, policy)}
    if any(f in ATTRIBUTE_FAMILIES for f in _families(definition)):
        found.update(sensitive_names(policy))
    return sorted(found)


def check_features(what: str, features: Iterable[str], purpose: str | None, policy) -> list[str]:
    """Refuse sensitive ``features`` unless ``purpose`` is allowed; returns those allowed (for the audit log)."""
    found = sorted({f for f in features if is_sensitive(f, policy)})
    if not found:
        return []
    if purpose and purpose in policy.purposes:
        return found
    allowed = ", ".join(policy.purposes) if policy.purposes else "none listed"
    first = found[0]
    more = f" (and {', '.join(found[1:])})" if len(found) > 1 else ""
    setting = ("privacy.sensitive.columns" if is_sensitive(first, policy) in policy.columns
               else "privacy.sensitive.attributes")
    why = (f" Its purpose {purpose!r} is not one of privacy.sensitive.purposes." if purpose else "")
    raise SensitiveAttributeError(
        f"{what} uses the sensitive attribute {first!r}{more} ({setting} in segmint.yaml).{why} Remove it, or "
        f"declare why: set `purpose:` on the segmentation to one of privacy.sensitive.purposes (now: {allowed}).")


def check_definition(name: str, definition: Mapping[str, Any], policy) -> list[str]:
    """:func:`check_features` for a segmentation's definition (a mapping, as in segmint.yaml)."""
    return check_features(f"segmentation {name!r}", used_sensitive(definition, policy),
                          definition.get("purpose"), policy)


__all__ = ["SensitiveAttributeError", "check_definition", "check_features", "is_sensitive", "sensitive_names",
           "used_sensitive"]
