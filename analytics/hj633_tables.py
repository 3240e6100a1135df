"""HJ 633 breakpoint and category tables, 2012 and 2026 editions (domain.md §1.1, §1.5)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

EDITIONS: tuple[int, ...] = (2012, 2026)

# Concentration units per indicator: µg/m3, except CO in mg/m3.
INDICATORS: tuple[str, ...] = (
    "pm25", "pm10", "so2_24h", "so2_1h", "no2_24h", "no2_1h", "co_24h", "co_1h", "o3_1h", "o3_8h",
)


def _frozen(values: list[float]) -> np.ndarray:
    """A read-only float64 array, so no caller can edit a standard by accident."""
    array = np.array(values, dtype=np.float64)
    array.setflags(write=False)
    return array


IAQI_ROWS: np.ndarray = _frozen([0, 50, 100, 150, 200, 300, 400, 500])

_NAN = float("nan")

# Rows the standard leaves empty (SO2 1-h above IAQI 200, O3 8-h above IAQI 300) are NaN:
# beyond them an overflow rule applies instead of interpolation (see OVERFLOW_IAQI).
_SHARED_COLUMNS: dict[str, list[float]] = {
    "so2_24h": [0, 50, 150, 475, 800, 1600, 2100, 2620],
    "so2_1h": [0, 150, 500, 650, 800, _NAN, _NAN, _NAN],
    "no2_24h": [0, 40, 80, 180, 280, 565, 750, 940],
    "no2_1h": [0, 100, 200, 700, 1200, 2340, 3090, 3840],
    "co_24h": [0, 2, 4, 14, 24, 36, 48, 60],
    "co_1h": [0, 5, 10, 35, 60, 90, 120, 150],
    "o3_1h": [0, 160, 200, 300, 400, 800, 1000, 1200],
    "o3_8h": [0, 100, 160, 215, 265, 800, _NAN, _NAN],
}

# Only the PM columns differ between editions: IAQI 100 sits at 75/150 (2012) and 60/120 (2026).
# The daily PM column is also the one used for 1-hour PM values (both editions).
_PM_COLUMNS: dict[int, dict[str, list[float]]] = {
    2012: {
        "pm25": [0, 35, 75, 115, 150, 250, 350, 500],
        "pm10": [0, 50, 150, 250, 350, 420, 500, 600],
    },
    2026: {
        "pm25": [0, 35, 60, 115, 150, 250, 350, 500],
        "pm10": [0, 50, 120, 250, 350, 420, 500, 600],
    },
}

BREAKPOINTS: Mapping[int, Mapping[str, np.ndarray]] = MappingProxyType(
    {
        edition: MappingProxyType(
            {name: _frozen(column) for name, column in {**_SHARED_COLUMNS, **pm}.items()}
        )
        for edition, pm in _PM_COLUMNS.items()
    }
)

# IAQI given to a concentration above the last defined breakpoint of an indicator whose column
# stops early. 2012 says "do not compute; use the 24-h SO2 / 1-h O3 IAQI instead" -> NaN here,
# the caller may substitute; 2026 fixes the IAQI at 200 (SO2 1-h) and 300 (O3 8-h).
OVERFLOW_IAQI: Mapping[str, Mapping[int, float]] = MappingProxyType(
    {
        "so2_1h": MappingProxyType({2012: _NAN, 2026: 200.0}),
        "o3_8h": MappingProxyType({2012: _NAN, 2026: 300.0}),
    }
)

# Full columns end at IAQI 500; above their top breakpoint the standard defines nothing.
# Lantian's convention: IAQI 500, to be displayed as ">500" (爆表).
BEYOND_TABLE_IAQI = 500.0

# GB/T 8170 pre-rounding of concentrations in the 2026 edition: CO to 0.1 mg/m3, others to 1 µg/m3.
PREROUND_DECIMALS_2026: Mapping[str, int] = MappingProxyType(
    {name: (1 if name.startswith("co_") else 0) for name in INDICATORS}
)


@dataclass(frozen=True)
class AqiCategory:
    """One AQI level (identical in both editions): AQI range, names and display colour."""

    level: int
    aqi_low: int
    aqi_high: int | None
    name_zh: str
    name_en: str
    colour_hex: str


CATEGORIES: tuple[AqiCategory, ...] = (
    AqiCategory(1, 0, 50, "优", "Excellent", "#00E400"),
    AqiCategory(2, 51, 100, "良", "Good", "#FFFF00"),
    AqiCategory(3, 101, 150, "轻度污染", "Lightly polluted", "#FF7E00"),
    AqiCategory(4, 151, 200, "中度污染", "Moderately polluted", "#FF0000"),
    AqiCategory(5, 201, 300, "重度污染", "Heavily polluted", "#99004C"),
    AqiCategory(6, 301, None, "严重污染", "Severely polluted", "#7E0023"),
)

CATEGORY_BY_LEVEL: Mapping[int, AqiCategory] = MappingProxyType(
    {category.level: category for category in CATEGORIES}
)

# Upper AQI bound of levels 1..5; anything above the last is level 6.
LEVEL_UPPER_AQI: np.ndarray = _frozen([c.aqi_high for c in CATEGORIES if c.aqi_high is not None])


def breakpoints(indicator: str, edition: int) -> np.ndarray:
    """Concentration breakpoints (aligned with IAQI_ROWS, NaN = row undefined) for one indicator.

    Units: µg/m3, CO mg/m3. Raises ValueError for an unknown indicator or edition.
    """
    if edition not in BREAKPOINTS:
        raise ValueError(f"unknown HJ 633 edition {edition!r}; expected one of {EDITIONS}")
    column = BREAKPOINTS[edition].get(indicator)
    if column is None:
        raise ValueError(f"unknown HJ 633 indicator {indicator!r}; expected one of {INDICATORS}")
    return column
