"""Measured values of a healthy stack: O2 from load, pollutants diluted by excess air, noise.

The process signal is each pollutant's level at the reference O2; the analyser sees it diluted
by the flue gas's own excess air, (21 − O2) / (21 − O2_ref), so conversion gives it back.
"""

from __future__ import annotations

import numpy as np

from config.outlets import Outlet
from simulators.cems_noise import ar1, exp_filter
from simulators.cems_profiles import AIR_O2_PCT, POLLUTANTS, CemsProfile, nominal_converted_mgm3

AMBIENT_TEMPERATURE_C = 15.0
AMBIENT_MOISTURE_PCT = 1.5


def noise_floor(profile: CemsProfile, pollutant: str) -> float:
    """Zero noise of an analyser, mg/m³: 0.2 % of its range."""
    return 0.002 * profile.analyser_range_mgm3[pollutant]


def zero_reading(rng: np.random.Generator, profile: CemsProfile, pollutant: str, n: int
                 ) -> np.ndarray:
    """What an analyser reads on zero gas or clean air: |noise floor|, mg/m³, `n` minutes."""
    return np.abs(noise_floor(profile, pollutant) * rng.standard_normal(n))


def healthy_values(outlet: Outlet, profile: CemsProfile, load: np.ndarray, running: np.ndarray,
                   rng: np.random.Generator
                   ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Minute means and within-minute half-ranges of every parameter of a healthy stack.

    `load` (0–1, ramps included) and `running` are per minute. Units as OutletSeries: mg/m³
    dry standard state as measured, O2 and moisture %, flow m³/s, velocity m/s, °C, kPa.
    Pollutants vary with load and two AR(1) terms (6 h and 15 min correlation times) on the
    reference-O2 basis; stopped minutes read ambient air.
    """
    n = len(load)
    o2_start = min(20.0, max(18.0, profile.o2_low_load_pct + 1.0))
    o2_true = np.interp(load, [0.0, 0.5, 1.0], [o2_start, profile.o2_low_load_pct, profile.o2_pct])
    o2_true = np.where(running, np.clip(o2_true + ar1(rng, n, 20.0, 0.2), 0.5, 20.7), AIR_O2_PCT)
    reference = outlet.reference_o2 if outlet.reference_o2 is not None else profile.o2_pct
    dilution = (21.0 - o2_true) / (21.0 - reference)
    nominal = nominal_converted_mgm3(profile, outlet)
    values: dict[str, np.ndarray] = {}
    spread: dict[str, np.ndarray] = {}
    for p in POLLUTANTS:
        slow, fast = ar1(rng, n, 360.0, 0.10), ar1(rng, n, 15.0, 0.08)
        converted = nominal[p] * (0.8 + 0.2 * load) * np.exp(slow + fast - 0.5 * (0.01 + 0.0064))
        floor = noise_floor(profile, p)
        measured = converted * dilution * (1 + 0.015 * rng.standard_normal(n))
        values[p] = np.abs(measured + floor * rng.standard_normal(n))
        spread[p] = values[p] * rng.uniform(0.02, 0.06, n) + floor
    values["o2"] = np.clip(o2_true + 0.03 * rng.standard_normal(n), 0.0, 20.99)
    spread["o2"] = rng.uniform(0.03, 0.08, n)
    flow = profile.flow_m3s * (0.3 + 0.7 * load) * np.exp(ar1(rng, n, 30.0, 0.02))
    flow = np.where(running, flow, 0.0) + np.abs(rng.standard_normal(n)) * 0.002 * profile.flow_m3s
    values["flow"] = flow
    spread["flow"] = flow * rng.uniform(0.01, 0.03, n)
    values["velocity"] = flow * profile.velocity_ms / profile.flow_m3s * (
        1 + 0.01 * rng.standard_normal(n))
    spread["velocity"] = values["velocity"] * rng.uniform(0.01, 0.03, n)
    warm = exp_filter(running * (0.85 + 0.15 * load), 90.0)
    values["temperature"] = (AMBIENT_TEMPERATURE_C + (profile.temperature_c - AMBIENT_TEMPERATURE_C)
                             * warm + 0.3 * rng.standard_normal(n))
    spread["temperature"] = rng.uniform(0.1, 0.4, n)
    wet = exp_filter(running * (0.9 + 0.1 * load), 30.0)
    values["moisture"] = (AMBIENT_MOISTURE_PCT + (profile.moisture_pct - AMBIENT_MOISTURE_PCT) * wet
                          + ar1(rng, n, 60.0, 0.2)).clip(0.1, None)
    spread["moisture"] = rng.uniform(0.05, 0.2, n)
    values["pressure"] = (profile.pressure_kpa * (0.4 + 0.6 * load) * running
                          + 0.005 * rng.standard_normal(n))
    spread["pressure"] = rng.uniform(0.002, 0.01, n)
    return values, spread
