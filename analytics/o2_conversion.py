"""Reference-O2 conversion of stack concentrations (折算浓度, domain.md §5.1), and its check."""

from __future__ import annotations

import math

import numpy as np

# O2 share of dry ambient air, % (the 21 of C_ref = C × (21 − O2_ref) / (21 − O2_meas)).
AMBIENT_O2_PCT = 21.0

__all__ = ["AMBIENT_O2_PCT", "conversion_mismatch", "to_reference_o2"]


def _per_source(reference_o2: np.ndarray | float, ndim: int) -> np.ndarray:
    """`reference_o2` reshaped so that a 1-D array lines up with the first (source) axis."""
    reference = np.asarray(reference_o2, dtype=np.float64)
    if reference.ndim == 1 and ndim > 1:
        reference = reference.reshape(reference.shape + (1,) * (ndim - 1))
    return reference


def to_reference_o2(
    concentration: np.ndarray | float,
    o2_measured: np.ndarray | float,
    reference_o2: np.ndarray | float,
) -> np.ndarray:
    """Concentrations converted to the reference O2: C × (21 − O2_ref) / (21 − O2_meas).

    `concentration` is mg/m³ (dry, standard state); `o2_measured` the dry O2 in % on the same
    basis (same shape, or anything NumPy broadcasts against it); `reference_o2` the standard's
    reference O2 in %, either a scalar or **one value per source**: a 1-D array shaped (S,) is
    aligned with the first axis of an (S, T) concentration (reshaped to (S, 1), so it applies to
    every column of its row); with 1-D concentrations shaped (S,) it pairs element-wise. A
    higher-rank `reference_o2` is broadcast by NumPy's rules unchanged.

    Where `reference_o2` is NaN the outlet's standard sets no reference O2 and the concentration
    is returned unconverted (its O2 is then not needed). Otherwise the result is NaN where the
    concentration or O2 is NaN, or O2 ≥ 21 % (impossible in flue gas; ambient air would divide
    by ~0). Returns a new float64 array of the broadcast shape; inputs are not modified.
    Raises ValueError if a reference O2 lies outside [0, 21) — a configuration error.
    """
    conc = np.asarray(concentration, dtype=np.float64)
    o2 = np.asarray(o2_measured, dtype=np.float64)
    reference = _per_source(reference_o2, max(conc.ndim, o2.ndim))
    known = reference[~np.isnan(reference)]
    if np.any((known < 0) | (known >= AMBIENT_O2_PCT)):
        raise ValueError(f"reference O2 must lie in [0, {AMBIENT_O2_PCT}) %; got {known.tolist()}")
    plausible = o2 < AMBIENT_O2_PCT  # False for NaN too
    # A placeholder denominator where O2 is unusable keeps the division free of warnings.
    denominator = np.where(plausible, AMBIENT_O2_PCT - o2, 1.0)
    converted = np.where(plausible, conc * (AMBIENT_O2_PCT - reference) / denominator, math.nan)
    return np.where(np.isnan(reference), conc, converted)


def conversion_mismatch(
    reported: np.ndarray | float,
    computed: np.ndarray | float,
    *,
    abs_tol: float = 0.06,
    rel_tol: float = 0.02,
) -> np.ndarray:
    """True where the unit's own converted value (HJ 212 ``-ZsAvg``) disagrees with ours.

    `reported` and `computed` are converted concentrations (mg/m³ at reference O2) of the same
    hours, broadcast together. They disagree when both are present and
    |reported − computed| > max(`abs_tol`, `rel_tol` × |computed|): the absolute part absorbs
    the unit's rounding to 1 decimal (≤ 0.05), the relative part the rounding of the Avg and O2
    it converted from. A wrong reference O2 (9 % instead of 6 % changes the factor by ~25 %) or
    an unconverted value stands out. NaN on either side gives False (unknown is not a mismatch).
    Returns a bool array of the broadcast shape.
    """
    ours = np.asarray(computed, dtype=np.float64)
    theirs = np.asarray(reported, dtype=np.float64)
    tolerance = np.maximum(abs_tol, rel_tol * np.abs(ours))
    return np.abs(theirs - ours) > tolerance  # NaN compares False
