"""Exceedance in an audit: station days over GB 3095 limits, stack hours over their limits.

Both rules already exist for the live loop (analytics/exceedance.py for stations,
analytics/emission_exceedance.py's run logic for stacks); this module applies them to an
AuditSeries so that the offline audit and the live falsification cycle judge exactly alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.aqi import round_half_even
from analytics.exceedance import detect_exceedance as detect_station_exceedance
from analytics.falsification.audit_series import AuditSeries
from analytics.falsification.run_findings import finding, number, runs
from analytics.findings import Finding
from analytics.series_window import SeriesWindow

EXCEEDANCE = "exceedance"


@dataclass(frozen=True)
class ExceedanceSettings:
    """Which station pollutants are judged by their daily mean; stack limits come with the data.

    PM2.5 and PM10, as the live loop judges them (analytics/standards_calendar.py holds the
    Grade II daily limits of both editions for these two; the 2026 edition tightened them).
    """

    station_pollutants: tuple[str, ...] = ("pm25", "pm10")
    # GB 3095: a daily mean needs ≥ 20 valid hours.
    min_hours_per_day: int = 20
    # Converted hourly means are reported (and judged) to 1 decimal (HJ 75-2017).
    outlet_decimals: int = 1


def detect_exceedance(series: AuditSeries,
                      settings: ExceedanceSettings = ExceedanceSettings()) -> list[Finding]:
    """Findings of type "exceedance" for stations (per local day) or outlets (per run of hours).

    Stations: the live rule of analytics/exceedance.py on hourly measured values. Outlets:
    consecutive hours whose converted mean, rounded to `outlet_decimals` half-to-even, is above
    the source's limit; score = max converted / limit.
    """
    if not series.sources or not len(series.times):
        return []
    hourly = series.hourly()
    if hourly.kind == "station":
        present = {p: hourly.measured(p) for p in settings.station_pollutants
                   if p in hourly.values}
        window = SeriesWindow(hourly.sources, hourly.times, present, 3600)
        return detect_station_exceedance(window, hourly.tz, pollutants=tuple(present),
                                         min_hours=settings.min_hours_per_day)
    findings: list[Finding] = []
    for pollutant in hourly.pollutants():
        limit = hourly.limit(pollutant)
        if np.all(np.isnan(limit)):
            continue
        converted = hourly.converted(pollutant)
        reported = round_half_even(converted, settings.outlet_decimals)
        with np.errstate(invalid="ignore"):
            over = reported > limit[:, None]
        for row, first, last in zip(*runs(over), strict=True):
            span = converted[row, first:last + 1]
            evidence = {
                "limit_mgm3": number(limit[row], 2),
                "reference_o2_pct": (None if hourly.reference_o2 is None
                                     else number(hourly.reference_o2[row], 1)),
                "hours": int(last - first + 1),
                "max_mgm3": number(np.nanmax(span), 1),
                "mean_mgm3": number(np.nanmean(span), 1),
                "standard": "hourly mean at reference O2 (HJ 75-2017)",
            }
            findings.append(finding(hourly, EXCEEDANCE, int(row), pollutant, int(first),
                                    int(last), float(np.nanmax(span) / limit[row]), evidence))
    return findings
