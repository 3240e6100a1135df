"""Per-industry CEMS profiles: what a healthy stack of each kind emits and how its load moves.

Figures are typical of Chinese ultra-low-emission plants (shared/domain.md §5–§6) and serve
simulation only; the model scales the pollutants to each outlet's own limits
(:func:`nominal_converted_mgm3`), so every profile stays compliant whatever the permit says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from config.outlets import Outlet

POLLUTANTS: tuple[str, ...] = ("particulate", "so2", "nox")
AIR_O2_PCT = 20.9  # dry ambient air, what an O2 analyser reads with no combustion gas
# A healthy stack's full-load converted level never exceeds this share of its limit, so the
# slow and fast noise (≈ ±40 % at the extremes of a month) keeps every clean hour compliant.
LIMIT_HEADROOM = 0.5

Cycle = Literal["daily_load", "continuous", "heating_season"]


@dataclass(frozen=True)
class CemsProfile:
    """How one kind of stack behaves (all at full load unless said otherwise).

    `concentrations_mgm3`: typical measured particulate/so2/nox, mg/m³ dry standard state at
    `o2_pct`; `o2_low_load_pct`: O2 at half load (more excess air); `flow_m3s`: flue-gas flow,
    m³/s standard state; `temperature_c`, `moisture_pct`, `velocity_ms`, `pressure_kpa` (static,
    gauge). `cycle` selects the production shape: ``daily_load`` (grid dispatch, trough
    `min_load` at night, peaks at `peak_hours` local), ``continuous`` (flat near full load)
    or ``heating_season`` (runs only between `season` (month, day) bounds, more load at night).
    `stops_per_30d` unplanned stops last `stop_hours` (min, max) and restart over `startup_min`.
    `analyser_range_mgm3` is each analyser's full scale (span gas at `span_fraction` of it).
    """

    industry: str
    concentrations_mgm3: Mapping[str, float]
    o2_pct: float
    o2_low_load_pct: float
    flow_m3s: float
    temperature_c: float
    moisture_pct: float
    velocity_ms: float
    pressure_kpa: float
    cycle: Cycle
    min_load: float = 0.9
    peak_hours: tuple[float, ...] = ()
    season: tuple[tuple[int, int], tuple[int, int]] | None = None
    stops_per_30d: float = 0.5
    stop_hours: tuple[float, float] = (4.0, 24.0)
    startup_min: int = 120
    shutdown_min: int = 60
    maintenance_per_30d: float = 2.0
    maintenance_hours: tuple[float, float] = (1.0, 4.0)
    faults_per_30d: float = 0.5
    analyser_range_mgm3: Mapping[str, float] = field(
        default_factory=lambda: {"particulate": 50.0, "so2": 200.0, "nox": 300.0}
    )
    span_fraction: float = 0.8


PROFILES: dict[str, CemsProfile] = {
    # Coal-fired unit, ultra-low (6 % reference O2): load follows the grid's daily curve.
    "power": CemsProfile(
        industry="power",
        concentrations_mgm3={"particulate": 3.0, "so2": 16.0, "nox": 28.0},
        o2_pct=5.8, o2_low_load_pct=7.8, flow_m3s=280.0, temperature_c=50.0,
        moisture_pct=12.5, velocity_ms=19.0, pressure_kpa=-0.22,
        cycle="daily_load", min_load=0.55, peak_hours=(10.5, 19.5),
        stops_per_30d=0.3, stop_hours=(8.0, 36.0), startup_min=240, shutdown_min=90,
    ),
    # Sinter machine head (16 % reference O2): continuous, occasional stops for repairs.
    "steel": CemsProfile(
        industry="steel",
        concentrations_mgm3={"particulate": 4.5, "so2": 18.0, "nox": 26.0},
        o2_pct=15.4, o2_low_load_pct=16.6, flow_m3s=350.0, temperature_c=95.0,
        moisture_pct=10.0, velocity_ms=17.0, pressure_kpa=-0.45,
        cycle="continuous", min_load=0.9, stops_per_30d=0.8, stop_hours=(3.0, 16.0),
        startup_min=90, shutdown_min=45,
    ),
    # Cement kiln tail (10 % reference O2): continuous with occasional kiln stops.
    "cement": CemsProfile(
        industry="cement",
        concentrations_mgm3={"particulate": 4.0, "so2": 11.0, "nox": 48.0},
        o2_pct=10.6, o2_low_load_pct=11.8, flow_m3s=120.0, temperature_c=110.0,
        moisture_pct=8.0, velocity_ms=15.0, pressure_kpa=-0.35,
        cycle="continuous", min_load=0.9, stops_per_30d=0.6, stop_hours=(4.0, 30.0),
        startup_min=180, shutdown_min=60,
        analyser_range_mgm3={"particulate": 50.0, "so2": 200.0, "nox": 500.0},
    ),
    # Coke-oven chimney (8 % reference O2): ovens never cool, stops are rare and short.
    "coking": CemsProfile(
        industry="coking",
        concentrations_mgm3={"particulate": 3.5, "so2": 11.0, "nox": 60.0},
        o2_pct=9.5, o2_low_load_pct=10.5, flow_m3s=60.0, temperature_c=180.0,
        moisture_pct=10.0, velocity_ms=12.0, pressure_kpa=-0.30,
        cycle="continuous", min_load=0.95, stops_per_30d=0.2, stop_hours=(2.0, 8.0),
        startup_min=60, shutdown_min=30,
        analyser_range_mgm3={"particulate": 50.0, "so2": 200.0, "nox": 500.0},
    ),
    # Gas-fired heating boiler (3.5 % reference O2): runs 15 Nov–15 Mar (Beijing heating
    # season), hardest before dawn, off in summer.
    "boiler": CemsProfile(
        industry="boiler",
        concentrations_mgm3={"particulate": 1.2, "so2": 2.0, "nox": 14.0},
        o2_pct=4.2, o2_low_load_pct=6.0, flow_m3s=15.0, temperature_c=70.0,
        moisture_pct=14.0, velocity_ms=9.0, pressure_kpa=-0.10,
        cycle="heating_season", min_load=0.5, peak_hours=(5.5,),
        season=((11, 15), (3, 15)), stops_per_30d=0.5, stop_hours=(2.0, 12.0),
        startup_min=30, shutdown_min=20,
        analyser_range_mgm3={"particulate": 20.0, "so2": 50.0, "nox": 100.0},
    ),
}
# Industries of the register without a profile of their own (glass, chemical, other).
GENERIC_PROFILE = CemsProfile(
    industry="other",
    concentrations_mgm3={"particulate": 4.0, "so2": 15.0, "nox": 40.0},
    o2_pct=10.0, o2_low_load_pct=11.5, flow_m3s=80.0, temperature_c=90.0,
    moisture_pct=9.0, velocity_ms=13.0, pressure_kpa=-0.30, cycle="continuous",
)


def profile_for(industry: str) -> CemsProfile:
    """The profile of an industry of config/outlets.py; a generic continuous one otherwise."""
    return PROFILES.get(industry, GENERIC_PROFILE)


def nominal_converted_mgm3(profile: CemsProfile, outlet: Outlet) -> dict[str, float]:
    """Full-load pollutant levels, mg/m³ at the outlet's reference O2 (as measured if None).

    The profile's typical measured value converted at its own O2, capped at
    ``LIMIT_HEADROOM × limit`` so that a clean simulated stack complies with its permit.
    """
    levels: dict[str, float] = {}
    for pollutant in POLLUTANTS:
        measured = profile.concentrations_mgm3[pollutant]
        if outlet.reference_o2 is None:
            converted = measured
        else:
            converted = measured * (21.0 - outlet.reference_o2) / (21.0 - profile.o2_pct)
        limit = outlet.limits.get(pollutant)
        levels[pollutant] = converted if limit is None else min(converted,
                                                                 LIMIT_HEADROOM * limit)
    return levels
