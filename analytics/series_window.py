"""SeriesWindow: the one input shape of analytics — (sources × time) arrays on a regular grid."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SeriesWindow:
    """Values of several pollutants for several sources on one regular UTC time grid.

    `times` is ``datetime64[s]`` (UTC, start of each averaging period), strictly increasing
    with a constant step of `step_s` seconds; each array in `values` is float64 shaped
    ``(len(sources), len(times))`` with NaN where no valid value exists.
    """

    sources: tuple[str, ...]
    times: np.ndarray
    values: Mapping[str, np.ndarray]
    step_s: int = 3600

    def __post_init__(self) -> None:
        if self.times.dtype != np.dtype("datetime64[s]"):
            raise ValueError(f"times must be datetime64[s], got {self.times.dtype}")
        shape = (len(self.sources), len(self.times))
        for pollutant, array in self.values.items():
            if array.shape != shape:
                raise ValueError(f"{pollutant} has shape {array.shape}, expected {shape}")
        if len(self.times) > 1:
            steps = np.diff(self.times).astype(np.int64)
            if not np.all(steps == self.step_s):
                raise ValueError(f"times are not on a regular {self.step_s} s grid")


def align(window: SeriesWindow, sources: Sequence[str]) -> SeriesWindow:
    """`window` re-indexed to `sources` (rows of sources it lacks are NaN)."""
    if tuple(window.sources) == tuple(sources):
        return window
    index = {name: i for i, name in enumerate(window.sources)}
    # intp: an empty `sources` would otherwise make a float array, which cannot index
    rows = np.array([index.get(name, -1) for name in sources], dtype=np.intp)
    values = {}
    for key, array in window.values.items():
        out = np.full((len(sources), array.shape[1]), np.nan)
        present = rows >= 0
        out[present] = array[rows[present]]
        values[key] = out
    return SeriesWindow(tuple(sources), window.times, values, window.step_s)
