"""Vectorized time-series building blocks for the CEMS model: AR(1) noise, smoothing, local clock.

AR(1) and exponential smoothing are causal linear filters; they are computed as one FFT
convolution with the filter's (truncated) impulse response, so there is no loop over time.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, tzinfo

import numpy as np

_TAIL_TAUS = 30.0  # impulse response cut where it has decayed by e^-30


def _causal_filter(x: np.ndarray, phi: float, gain: float) -> np.ndarray:
    """y[t] = phi·y[t−1] + gain·x[t] with y[−1] = 0, via FFT convolution."""
    n = len(x)
    taps = min(n, math.ceil(_TAIL_TAUS / max(-math.log(phi), 1e-12)) + 1)
    kernel = gain * phi ** np.arange(taps)
    size = 1 << (n + taps - 1).bit_length()
    y = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(kernel, size), size)[:n]
    return y


def ar1(rng: np.random.Generator, n: int, tau_min: float, sigma: float) -> np.ndarray:
    """A stationary AR(1) series of `n` minutes: correlation time `tau_min`, std `sigma`.

    A burn-in of several correlation times is drawn and dropped, so the first values already
    have the stationary spread. Unitless (multiply or add as the caller's unit requires).
    """
    phi = math.exp(-1.0 / tau_min)
    burn = math.ceil(5 * tau_min)
    shocks = rng.standard_normal(n + burn)
    return _causal_filter(shocks, phi, sigma * math.sqrt(1 - phi * phi))[burn:]


def exp_filter(x: np.ndarray, tau_min: float) -> np.ndarray:
    """Causal exponential smoothing of `x` with time constant `tau_min` minutes (same unit).

    The signal is taken to have held its first value before the start, so there is no
    warm-up transient (a stack that starts the window hot stays hot).
    """
    x = np.asarray(x, dtype=np.float64)
    phi = math.exp(-1.0 / tau_min)
    burn = math.ceil(5 * tau_min)
    padded = np.concatenate((np.full(burn, x[0] if len(x) else 0.0), x))
    smoothed = _causal_filter(padded, phi, 1 - phi)[burn:]
    # Undo the start-up bias the truncated history leaves (weight of history beyond `burn`).
    return smoothed + x[0] * phi ** (burn + 1 + np.arange(len(x))) if len(x) else smoothed


def local_seconds(utc_s: np.ndarray, tz: tzinfo) -> np.ndarray:
    """Local wall-clock time of Unix seconds `utc_s`, as seconds since 1970-01-01 local.

    Offsets are looked up once per UTC hour (time-zone transitions fall on whole hours in
    every zone in use in China and in all daylight-saving rules), then applied vectorized.
    """
    utc_s = np.asarray(utc_s, dtype=np.int64)
    if not len(utc_s):
        return utc_s.copy()
    hours = utc_s // 3600
    unique_hours, position = np.unique(hours, return_inverse=True)
    offsets = np.array([
        int(datetime.fromtimestamp(int(h) * 3600, UTC).astimezone(tz).utcoffset().total_seconds())
        for h in unique_hours
    ], dtype=np.int64)
    return utc_s + offsets[position]
