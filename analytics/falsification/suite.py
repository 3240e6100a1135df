"""Every falsification detector in one call, with one settings object for all of them.

The live cycle and the offline audit both call `run_detectors`, so they judge alike. Sources
are processed in blocks of `block_sources` (memory stays bounded for 5,000 minute series);
neighbour-based detectors see a whole block, so blocks of stations should hold whole cities
(the default block is far larger than any city's network).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from analytics.falsification.audit_series import AuditSeries
from analytics.falsification.bunching import BunchingSettings, detect_bunching
from analytics.falsification.copy_paste import CopyPasteSettings, detect_copy_paste
from analytics.falsification.dilution import DilutionSettings, detect_dilution
from analytics.falsification.exceedance import ExceedanceSettings, detect_exceedance
from analytics.falsification.flag_abuse import FlagAbuseSettings, detect_flag_abuse
from analytics.falsification.flatline import FlatlineSettings, detect_flatline
from analytics.falsification.gap_at_peak import GapAtPeakSettings, detect_gap_at_peak
from analytics.falsification.impossible_value import (
    ImpossibleValueSettings,
    detect_impossible_value,
)
from analytics.falsification.low_variance import LowVarianceSettings, detect_low_variance
from analytics.falsification.neighbor_divergence import (
    NeighborDivergenceSettings,
    detect_neighbor_divergence,
)
from analytics.falsification.step_drop import StepDropSettings, detect_step_drop
from analytics.findings import Finding

Detector = Callable[[AuditSeries, Any], list[Finding]]


@dataclass(frozen=True)
class DetectorSpec:
    """A detector, the dataclass of its thresholds, and the kinds of source it applies to."""

    detect: Detector
    settings_type: type
    kinds: tuple[str, ...] = ("station", "outlet")


STATION, OUTLET = ("station",), ("outlet",)
# The types of shared/formats.md §3, in the order an inspector reads a report.
DETECTORS: dict[str, DetectorSpec] = {
    "exceedance": DetectorSpec(detect_exceedance, ExceedanceSettings),
    "impossible_value": DetectorSpec(detect_impossible_value, ImpossibleValueSettings),
    "flatline": DetectorSpec(detect_flatline, FlatlineSettings),
    "low_variance": DetectorSpec(detect_low_variance, LowVarianceSettings),
    "copy_paste": DetectorSpec(detect_copy_paste, CopyPasteSettings),
    "bunching": DetectorSpec(detect_bunching, BunchingSettings, OUTLET),
    "neighbor_divergence": DetectorSpec(detect_neighbor_divergence, NeighborDivergenceSettings,
                                        STATION),
    "dilution": DetectorSpec(detect_dilution, DilutionSettings, OUTLET),
    "step_drop": DetectorSpec(detect_step_drop, StepDropSettings, OUTLET),
    "gap_at_peak": DetectorSpec(detect_gap_at_peak, GapAtPeakSettings),
    "flag_abuse": DetectorSpec(detect_flag_abuse, FlagAbuseSettings),
}


@dataclass(frozen=True)
class DetectorSettings:
    """Thresholds of every detector (each dataclass's defaults justify themselves), which ones
    run, and how many sources a block holds."""

    thresholds: Mapping[str, Any] = field(default_factory=dict)
    enabled: tuple[str, ...] = tuple(DETECTORS)
    block_sources: int = 500

    def of(self, name: str) -> Any:
        """The settings instance of detector `name` (its defaults unless overridden)."""
        given = self.thresholds.get(name)
        return given if given is not None else DETECTORS[name].settings_type()

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Mapping[str, Any]],
                       enabled: tuple[str, ...] | None = None,
                       block_sources: int = 500) -> DetectorSettings:
        """Settings from plain mappings (YAML): {detector: {field: value}}.

        ValueError names an unknown detector, an unknown field, or a value of the wrong type.
        """
        thresholds: dict[str, Any] = {}
        for name, values in overrides.items():
            if name not in DETECTORS:
                raise ValueError(f"unknown detector {name!r}; known: {', '.join(DETECTORS)}")
            settings_type = DETECTORS[name].settings_type
            defaults = settings_type()
            known = {f.name for f in dataclasses.fields(settings_type)}
            coerced: dict[str, Any] = {}
            for key, value in (values or {}).items():
                if key not in known:
                    raise ValueError(f"{name} has no threshold {key!r}; it has "
                                     f"{', '.join(sorted(known))}")
                coerced[key] = _coerce(f"{name}.{key}", getattr(defaults, key), value)
            thresholds[name] = settings_type(**coerced)
        chosen = tuple(DETECTORS) if enabled is None else tuple(enabled)
        unknown = [n for n in chosen if n not in DETECTORS]
        if unknown:
            raise ValueError(f"unknown detector(s) {unknown}; known: {', '.join(DETECTORS)}")
        if block_sources < 1:
            raise ValueError("block_sources must be ≥ 1")
        return cls(thresholds=thresholds, enabled=chosen, block_sources=block_sources)


def _coerce(where: str, default: Any, value: Any) -> Any:
    """`value` in the type of `default` (int for float, list for tuple), else ValueError."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int | float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = type(default)(value) if ok and float(value) == type(default)(value) else value
        ok = ok and isinstance(value, type(default))
    elif isinstance(default, tuple):
        ok = isinstance(value, list | tuple)
        value = tuple(value) if ok else value
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ValueError(f"{where} must be like {default!r}, got {value!r}")
    return value


def steps(series: AuditSeries, settings: DetectorSettings) -> Iterator[tuple[str, slice]]:
    """The (detector, block of rows) units of work, in the order run_detectors does them."""
    n = len(series.sources)
    for start in range(0, n, settings.block_sources):
        for name in settings.enabled:
            if series.kind in DETECTORS[name].kinds:
                yield name, slice(start, min(start + settings.block_sources, n))


def run_detectors(series: AuditSeries, settings: DetectorSettings | None = None,
                  progress: Callable[[str, int], None] | None = None) -> list[Finding]:
    """Findings of every enabled detector over `series`, ordered by source, type, start.

    `progress(detector, n_sources)` is called after each unit of work (for a progress bar).
    """
    settings = settings or DetectorSettings()
    findings: list[Finding] = []
    blocks: dict[tuple[int, int], AuditSeries] = {}
    for name, rows in steps(series, settings):
        key = (rows.start, rows.stop)
        if key not in blocks:
            blocks.clear()
            blocks[key] = (series if (rows.start, rows.stop) == (0, len(series.sources))
                           else series.rows(rows))
        findings += DETECTORS[name].detect(blocks[key], settings.of(name))
        if progress is not None:
            progress(name, rows.stop - rows.start)
    order = {s: i for i, s in enumerate(series.sources)}
    return sorted(findings, key=lambda f: (order.get(f.source, -1), f.type, f.pollutant,
                                           f.start))


def count_steps(series: Mapping[str, AuditSeries] | list[AuditSeries],
                settings: DetectorSettings) -> int:
    """How many units of work run_detectors will report for these series."""
    items = series.values() if isinstance(series, Mapping) else series
    return sum(1 for s in items for _ in steps(s, settings))
