"""The station register (config/stations.yaml) as validated pydantic models."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

STATION_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
POLLUTANTS = ("pm25", "pm10", "so2", "no2", "o3", "co")
# Canonical unit per pollutant: what InfluxDB stores and analytics assume.
CANONICAL_UNITS = {"pm25": "ug/m3", "pm10": "ug/m3", "so2": "ug/m3", "no2": "ug/m3",
                   "o3": "ug/m3", "co": "mg/m3"}
# Factor that turns a value in the given unit into µg/m³.
# HJ 212 Table B.2 prints ng/m³ as the default PM unit; some units really send it.
UNIT_TO_UGM3 = {"ng/m3": 0.001, "ug/m3": 1.0, "mg/m3": 1000.0}


class Station(BaseModel):
    """One ambient monitoring station; `units` says what it sends when not canonical."""

    id: str = Field(pattern=STATION_ID_PATTERN)
    name: str
    city: str
    district: str = ""
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    units: dict[str, str] = {}
    # How often the station reports (s): 3600 for hourly means, 60 for minute data. Used for
    # the GB 3095 rule that an hourly mean needs ≥ 45 minutes of data.
    interval_s: int = Field(3600, ge=1, le=3600)
    # The MN of the station's HJ 212 data acquisition unit, when it reports over HJ 212.
    mn: str | None = Field(None, pattern=r"^[0-9A-Za-z]{1,24}$")

    @model_validator(mode="after")
    def _known_units(self) -> Station:
        for pollutant, unit in self.units.items():
            if pollutant not in CANONICAL_UNITS:
                raise ValueError(f"station {self.id}: unknown pollutant {pollutant!r} in units")
            if unit not in UNIT_TO_UGM3:
                raise ValueError(
                    f"station {self.id}: unit {unit!r} for {pollutant} is not one of "
                    f"{sorted(UNIT_TO_UGM3)}"
                )
        return self

    def factor_to_canonical(self, pollutant: str) -> float:
        """Multiplier from this station's unit for `pollutant` to the canonical unit."""
        sent = self.units.get(pollutant, CANONICAL_UNITS[pollutant])
        return UNIT_TO_UGM3[sent] / UNIT_TO_UGM3[CANONICAL_UNITS[pollutant]]


class StationRegister(BaseModel):
    stations: list[Station]

    @model_validator(mode="after")
    def _unique_ids(self) -> StationRegister:
        ids = [s.id for s in self.stations]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate station ids: {duplicates}")
        return self

    def by_id(self) -> dict[str, Station]:
        return {s.id: s for s in self.stations}

    def by_mn(self) -> dict[str, Station]:
        """Stations that report over HJ 212, by their unit's MN."""
        return {s.mn: s for s in self.stations if s.mn}


def load_stations(path: Path) -> StationRegister:
    """Read and validate the station register; raise ValueError naming the file on bad content."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return StationRegister.model_validate(raw)
    except FileNotFoundError as exc:
        raise ValueError(f"station register {path} not found") from exc
    except (yaml.YAMLError, ValidationError) as exc:
        raise ValueError(f"station register {path} is invalid: {exc}") from exc
