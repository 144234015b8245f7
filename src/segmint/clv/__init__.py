"""Customer lifetime value: BG/NBD, Pareto/NBD and Gamma-Gamma models, CLV and holdout checks.

Estimators follow scikit-learn's contract and take a frame of ``frequency, recency, T``
(and ``monetary_value``) as made by :func:`segmint.features.summary.rfm_summary`.
"""

from segmint.clv._base import FORMAT, MIN_CUSTOMERS, UnidentifiedWarning
from segmint.clv.bgnbd import BetaGeo
from segmint.clv.gamma_gamma import GammaGamma
from segmint.clv.holdout import calibration_and_holdout, holdout_report
from segmint.clv.lifetime_value import PERIODS_PER_MONTH, customer_lifetime_value
from segmint.clv.pareto_nbd import ParetoNBD

__all__ = [
    "FORMAT",
    "MIN_CUSTOMERS",
    "PERIODS_PER_MONTH",
    "BetaGeo",
    "GammaGamma",
    "ParetoNBD",
    "UnidentifiedWarning",
    "calibration_and_holdout",
    "customer_lifetime_value",
    "holdout_report",
]
