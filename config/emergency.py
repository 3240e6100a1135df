"""Heavy-pollution alert schemes per jurisdiction (config/emergency.yaml), versioned by the date
they take effect: every city publishes its own plan, and plans change (2018 national scheme,
2024 revision)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator


class ClauseConfig(BaseModel):
    """Daily AQI above `above` (or at least `at_least`) on ≥ `days` consecutive days."""

    above: float | None = Field(None, ge=0, le=500)
    at_least: float | None = Field(None, ge=0, le=500)
    days: int = Field(1, ge=1, le=10)

    @model_validator(mode="after")
    def _one_threshold(self) -> ClauseConfig:
        if (self.above is None) == (self.at_least is None):
            raise ValueError("a clause needs exactly one of 'above' or 'at_least'")
        return self


class LevelConfig(BaseModel):
    name: str = Field(pattern=r"^(blue|yellow|orange|red)$")
    response: str
    # Any of these alternatives; each alternative is a list of clauses that must all hold.
    any_of: list[list[ClauseConfig]] = Field(min_length=1)


class SchemeConfig(BaseModel):
    name: str
    effective_from: date
    source: str = ""
    confirmed: bool = True
    levels: list[LevelConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> SchemeConfig:
        order = ["blue", "yellow", "orange", "red"]
        ranks = [order.index(level.name) for level in self.levels]
        if ranks != sorted(set(ranks)):
            raise ValueError(f"scheme {self.name}: levels must be distinct and ordered "
                             "blue < yellow < orange < red")
        return self


class Jurisdiction(BaseModel):
    city: str
    schemes: list[SchemeConfig] = Field(min_length=1)

    def scheme_on(self, day: date) -> SchemeConfig | None:
        """The scheme in force on `day` (the latest that took effect by then)."""
        in_force = [s for s in self.schemes if s.effective_from <= day]
        return max(in_force, key=lambda s: s.effective_from) if in_force else None


class EmergencyRegister(BaseModel):
    jurisdictions: list[Jurisdiction]

    def for_city(self, city: str) -> Jurisdiction | None:
        return next((j for j in self.jurisdictions if j.city == city), None)


def load_emergency(path: Path) -> EmergencyRegister:
    """Read and validate the alert schemes; ValueError naming the file on bad content."""
    try:
        return EmergencyRegister.model_validate(
            yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except FileNotFoundError as exc:
        raise ValueError(f"emergency schemes {path} not found") from exc
    except (yaml.YAMLError, ValidationError) as exc:
        raise ValueError(f"emergency schemes {path} are invalid: {exc}") from exc
