"""Activation: the rules every audience that leaves segmint follows (consent, safe CSV cells).

The CLI's ``segmint members``, the API's member pages and exports, and later destinations
all go through :func:`~segmint.activate.consent.apply_consent` and, for CSV,
:func:`~segmint.activate.csvcells.neutralise_batch`; no export path has a rule of its own.
"""

from segmint.activate.consent import CONSENT, apply_consent
from segmint.activate.csvcells import FORMULA_PREFIXES, neutralise, neutralise_batch

__all__ = ["CONSENT", "FORMULA_PREFIXES", "apply_consent", "neutralise", "neutralise_batch"]
