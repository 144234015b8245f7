"""NaN-aware statistics that stay quiet on all-NaN input.

NumPy warns "Mean of empty slice" when a segment has no value for a feature (a customer
group without events, say); the NaN it returns is the right answer, and the profile marks
it, so the warning is noise for users and an error under the test suite's strict filters.

Examples
--------
>>> import numpy as np
>>> float(nanmean(np.array([np.nan])))
nan
"""

from __future__ import annotations

import warnings

import numpy as np


def _quiet(fn):
    def wrapped(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return fn(*args, **kwargs)

    wrapped.__name__ = fn.__name__
    wrapped.__doc__ = f"{fn.__name__} without the all-NaN RuntimeWarning."
    return wrapped


nanmean = _quiet(np.nanmean)
nanmedian = _quiet(np.nanmedian)
nanstd = _quiet(np.nanstd)
