"""Emission exceedance: runs of stack hours whose converted mean is above the outlet's limit."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from analytics.aqi import round_half_even
from analytics.emission_hourly import BASIS_NAMES, HourlyEmissions
from analytics.findings import Finding

STANDARD_LABEL = "hourly mean at reference O2 (HJ 75-2017 / HJ 212-2017)"
# Converted hourly means are reported (and judged) to 1 decimal, GB/T 8170 half-to-even.
REPORTED_DECIMALS = 1


def as_utc(instant: np.datetime64) -> datetime:
    """A datetime64[s] UTC instant as a timezone-aware datetime."""
    return instant.astype("datetime64[s]").astype(datetime).replace(tzinfo=UTC)


def rounded(value: float, decimals: int) -> float | None:
    """A JSON-ready number rounded to `decimals`, None where missing."""
    return None if math.isnan(value) else round(value, decimals)


def _count(value: float) -> int | None:
    """A count of valid values as an int, None for reported hours (no count behind them)."""
    return None if math.isnan(value) else int(value)


def exceeding_runs(over: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(source rows, first columns, last columns) of each run of True in a (S, T) bool mask.

    Edges of the zero-padded mask: +1 where a run starts, −1 one column after it ends. Both
    come out of np.nonzero in row-major order, so the k-th start pairs with the k-th end.
    """
    edges = np.diff(np.pad(over.astype(np.int8), ((0, 0), (1, 1))), axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, stops = np.nonzero(edges == -1)
    return rows, starts, stops - 1


def detect_emission_exceedance(
    hours: HourlyEmissions,
    limits: Mapping[str, np.ndarray],
    reference_o2: np.ndarray,
    tz: str,
) -> list[Finding]:
    """Findings of type "exceedance": runs of consecutive hours above an outlet's emission limit.

    `limits[p]` is shaped (S,), mg/m³ (dry, standard state) at the reference O2, NaN = no limit
    for that source; pollutants without limits, or not in `hours`, give nothing. An hour exceeds
    when its converted value rounded half-to-even to 1 decimal (as reported) is > the limit:
    an hour at exactly the limit complies, missing hours never exceed. Consecutive exceeding
    hours of one source and pollutant make one finding: start/end are the first/last hour
    starts (UTC), score = max converted / limit (unrounded). `reference_o2` (S,) in % is only
    quoted in the evidence (NaN → None: the standard converts nothing). `tz` (IANA name) gives
    the local times in the evidence. A run touching the window's last hour is reported too: the
    caller re-judges overlapping windows and a finding is keyed by (type, source, pollutant,
    start), so a growing run updates its finding. Ordered by pollutant (as in `hours`), then
    source, then start.
    """
    n_sources = len(hours.sources)
    if np.shape(reference_o2) != (n_sources,):
        raise ValueError(f"reference_o2 must be one number per source, shape ({n_sources},)")
    local_hours = pd.DatetimeIndex(hours.times).tz_localize("UTC").tz_convert(tz)
    findings: list[Finding] = []
    for pollutant in hours.pollutants:
        if pollutant not in limits:
            continue
        limit = np.asarray(limits[pollutant], dtype=np.float64)
        if limit.shape != (n_sources,):
            raise ValueError(f"limits[{pollutant!r}] must be shaped ({n_sources},)")
        converted = hours.converted[pollutant]
        judged = round_half_even(converted, REPORTED_DECIMALS)
        over = judged > limit[:, None]  # NaN on either side compares False
        for row, first, last in zip(*exceeding_runs(over), strict=True):
            columns = slice(first, last + 1)
            peak = float(np.max(converted[row, columns]))
            source_limit = float(limit[row])
            per_hour = [
                {
                    "hour": local_hours[column].isoformat(),
                    "measured_mgm3": rounded(float(hours.measured[pollutant][row, column]), 2),
                    "o2_pct": rounded(float(hours.o2[pollutant][row, column]), 2),
                    "converted_mgm3": rounded(float(judged[row, column]), REPORTED_DECIMALS),
                    "basis": BASIS_NAMES.get(int(hours.basis[pollutant][row, column]), "none"),
                    "valid_values": _count(float(hours.valid_count[pollutant][row, column])),
                }
                for column in range(first, last + 1)
            ]
            evidence: dict[str, Any] = {
                "limit_mgm3": source_limit,
                "reference_o2_pct": rounded(float(reference_o2[row]), 2),
                "standard": STANDARD_LABEL,
                "exceeded_hours": int(last - first + 1),
                "max_converted_mgm3": rounded(
                    float(round_half_even(np.array(peak), REPORTED_DECIMALS)), REPORTED_DECIMALS
                ),
                "max_ratio": round(peak / source_limit, 3),
                "hours": per_hour,
            }
            findings.append(
                Finding(
                    type="exceedance",
                    source=hours.sources[row],
                    pollutant=pollutant,
                    start=as_utc(hours.times[first]),
                    end=as_utc(hours.times[last]),
                    score=peak / source_limit,
                    evidence=evidence,
                )
            )
    return findings
