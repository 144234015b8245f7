"""What :meth:`segmint.workspace.Workspace.keep_features` keeps while ``segmint run`` works: :class:`FrameCache`.

``segmint run`` validates, profiles and reports every segmentation on the same snapshot.
A million customers' feature frame takes seconds to load and the stored run seconds to
read back, so inside the block each as_of's frame is read once, each run once, and the
run being judged is prepared (aligned, its effect sizes computed) once for its scorecard,
its profile and its report (docs/architecture.md, "Memory and time of segmint run").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from segmint.evaluate.inputs import Segmented
    from segmint.segment.results import SegmentationResult

__all__ = ["FrameCache"]


class FrameCache:
    """Feature frames by as_of, stored runs by (name, as_of), and the one prepared run being judged.

    Examples
    --------
    >>> import pandas as pd
    >>> cache = FrameCache()
    >>> loads = []
    >>> frame = cache.frame("2025-01-01", lambda: loads.append(1) or pd.DataFrame({"x": [1]}))
    >>> frame is cache.frame("2025-01-01", lambda: loads.append(1) or pd.DataFrame())
    True
    >>> len(loads)
    1
    """

    def __init__(self) -> None:
        self._frames: dict[str, pd.DataFrame] = {}
        self._runs: dict[tuple[str, str | None], SegmentationResult] = {}
        self._prepared: tuple[tuple, Segmented] | None = None
        self._positions: dict[str, np.ndarray] = {}

    def frame(self, as_of: str, load: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """The features frame at ``as_of``, loaded by ``load()`` the first time."""
        if as_of not in self._frames:
            self._frames[as_of] = load()
        return self._frames[as_of]

    @staticmethod
    def _run_key(name: str, as_of: Any) -> tuple[str, str | None]:
        return name, None if as_of is None else str(as_of)

    def run(self, name: str, as_of: Any, read: Callable[[], SegmentationResult]) -> SegmentationResult:
        """The stored run of ``name`` at ``as_of``, read by ``read()`` the first time."""
        key = self._run_key(name, as_of)
        if key not in self._runs:
            self._runs[key] = read()
        return self._runs[key]

    def made_run(self, name: str, as_of: Any, make: Callable[[], SegmentationResult]) -> SegmentationResult:
        """Make a run with ``make()`` and keep it, letting go of the runs kept so far.

        A new run may replace a kept one (an edited definition), and they hold memory; the run
        just made is what reading the stored run back would give.
        """
        self._runs.clear()
        self._prepared = None
        result = make()
        self._runs[self._run_key(name, as_of)] = result
        return result

    def prepared(self, key: tuple, build: Callable[[], Segmented]) -> Segmented:
        """The prepared run ``key`` (name, version, as_of), built by ``build()`` when it is not the one kept.

        One is kept: each holds its membership matrix and the sample with its statistics, and
        ``segmint run`` is done with a segmentation before it starts the next.
        """
        if self._prepared is None or self._prepared[0] != key:
            self._prepared = None
            self._prepared = (key, build())
        return self._prepared[1]

    def positions(self, as_of: str) -> np.ndarray | None:
        """Where each customer of the runs at ``as_of`` sits in the features frame (see :meth:`keep_positions`)."""
        return self._positions.get(as_of)

    def keep_positions(self, as_of: str, at: np.ndarray) -> None:
        """Every stored run of a snapshot lists the same customers in the same order: their frame positions, once."""
        self._positions[as_of] = at
