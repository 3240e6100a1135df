"""The outlet register (config/outlets.yaml): enterprise stacks that report over HJ 212.

Each outlet carries what judging its emissions needs: the reference O2 of the applicable
emission standard (from the permit) and hourly limits in mg/m³ at that O2, dry, standard state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

MN_PATTERN = r"^[0-9A-Za-z]{1,24}$"
INDUSTRIES = ("power", "steel", "cement", "coking", "boiler", "glass", "chemical", "other")
# Pollutants with emission limits; names are the canonical field names of ingest.hj212_codes.
LIMITED_POLLUTANTS = ("particulate", "so2", "nox")
ALERT_LEVELS = ("blue", "yellow", "orange", "red")
AlertLevel = Literal["blue", "yellow", "orange", "red"]
MINUTE_INTERVALS_MIN = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30)


class EmergencyMembership(BaseModel):
    """Membership of the heavy-pollution emission-reduction list (应急减排清单): the outlet's
    "one enterprise, one plan".

    `reduction_pct` is the cut committed per alert level, percent of the baseline; a level in
    `stop_production` orders the outlet to stop. Baselines are the normal hourly emission:
    `baseline_mgm3` at reference O2, `baseline_kg_h` as mass (concentration × flow).
    """

    listed: bool = False
    reduction_pct: dict[AlertLevel, float] = {}
    stop_production: list[AlertLevel] = []
    baseline_mgm3: dict[str, float] = {}
    baseline_kg_h: dict[str, float] = {}

    @model_validator(mode="after")
    def _sane(self) -> EmergencyMembership:
        for level, pct in self.reduction_pct.items():
            if not 0 <= pct <= 100:
                raise ValueError(f"reduction_pct[{level}]={pct} is not a percentage 0-100")
        for name, baseline in (*self.baseline_mgm3.items(), *self.baseline_kg_h.items()):
            if name not in LIMITED_POLLUTANTS or baseline <= 0:
                raise ValueError(f"baseline for {name!r} must be a positive value of one of "
                                 f"{', '.join(LIMITED_POLLUTANTS)}")
        if self.listed and (self.reduction_pct or self.stop_production) and not (
                self.baseline_mgm3 or self.baseline_kg_h or
                set(self.stop_production) >= set(self.reduction_pct)):
            raise ValueError("a listed outlet with required cuts needs a baseline "
                             "(baseline_mgm3 or baseline_kg_h) to audit them against")
        return self

    def required_cut(self, level: str) -> float | None:
        """Share of the baseline to cut at `level` (1.0 = stop production); None: none."""
        if level in self.stop_production:
            return 1.0
        pct = self.reduction_pct.get(level)  # type: ignore[call-overload]
        return None if pct is None else pct / 100


class Outlet(BaseModel):
    """One monitored stack (排放口) with its data acquisition unit's MN."""

    mn: str = Field(pattern=MN_PATTERN)
    name: str
    enterprise: str
    industry: str
    city: str = ""
    district: str = ""
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    # Reference O2 (%) of the applicable standard; None: no conversion (judge as measured).
    reference_o2: float | None = Field(None, ge=0, lt=21)
    # Hourly-mean limits, mg/m³ at reference O2, keyed by particulate / so2 / nox.
    limits: dict[str, float] = {}
    emergency: EmergencyMembership = EmergencyMembership()
    # The unit's access password (HJ 212 PW); None accepts any.
    password: str | None = Field(None, pattern=r"^[!-~]{1,32}$")
    rtd_interval_s: int = Field(60, ge=1, le=3600)
    minute_interval_min: int = 1

    @model_validator(mode="after")
    def _check(self) -> Outlet:
        if self.industry not in INDUSTRIES:
            raise ValueError(f"outlet {self.mn}: industry {self.industry!r} is not one of "
                             f"{', '.join(INDUSTRIES)}")
        for pollutant, limit in self.limits.items():
            if pollutant not in LIMITED_POLLUTANTS:
                raise ValueError(f"outlet {self.mn}: no limits for {pollutant!r}; limited "
                                 f"pollutants are {', '.join(LIMITED_POLLUTANTS)}")
            if limit <= 0:
                raise ValueError(f"outlet {self.mn}: limit for {pollutant} must be > 0")
        if self.minute_interval_min not in MINUTE_INTERVALS_MIN:
            raise ValueError(f"outlet {self.mn}: minute_interval_min must be one of "
                             f"{MINUTE_INTERVALS_MIN} (HJ 212 MinInterval)")
        return self


class OutletRegister(BaseModel):
    outlets: list[Outlet] = []

    @model_validator(mode="after")
    def _unique(self) -> OutletRegister:
        mns = [o.mn for o in self.outlets]
        duplicates = sorted({m for m in mns if mns.count(m) > 1})
        if duplicates:
            raise ValueError(f"duplicate outlet MNs: {duplicates}")
        return self

    def by_mn(self) -> dict[str, Outlet]:
        return {o.mn: o for o in self.outlets}

    def enterprises(self) -> dict[str, list[Outlet]]:
        grouped: dict[str, list[Outlet]] = {}
        for outlet in self.outlets:
            grouped.setdefault(outlet.enterprise, []).append(outlet)
        return grouped


def load_outlets(path: Path) -> OutletRegister:
    """Read and validate the outlet register; ValueError naming the file on bad content."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return OutletRegister.model_validate(raw)
    except FileNotFoundError as exc:
        raise ValueError(f"outlet register {path} not found") from exc
    except (yaml.YAMLError, ValidationError) as exc:
        raise ValueError(f"outlet register {path} is invalid: {exc}") from exc
