"""Data sets for development, tests and benchmarks.

* :func:`make_shop` / :func:`write_shop`: a synthetic shop (customers, orders, events,
  survey responses) with planted personas and, on request, planted bad rows.
* :mod:`segmint.datasets.planted`: planted-cluster tables with a known number of groups
  (the k-selection benchmark's data sets).
* :mod:`segmint.datasets.real`: loaders for the shared real data sets (Online Retail,
  CDNOW, Mall Customers).

Examples
--------
>>> from segmint.datasets import make_shop, PERSONA_NAMES
>>> shop = make_shop(200, seed=0)
>>> set(shop.ground_truth["persona"]) <= set(PERSONA_NAMES)
True
"""

from .dirty import DIRTY_KINDS
from .personas import BEHAVIOURAL_PERSONAS, PERSONA_NAMES, PERSONAS, Persona
from .shop import Shop, make_shop, write_shop

__all__ = [
    "BEHAVIOURAL_PERSONAS",
    "DIRTY_KINDS",
    "PERSONAS",
    "PERSONA_NAMES",
    "Persona",
    "Shop",
    "make_shop",
    "write_shop",
]
