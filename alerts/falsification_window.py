"""The live sliding window as AuditSeries: hourly station and outlet data out of InfluxDB.

The database averages (GROUP BY time(1h)); only values flagged other than N/T come back
raw, because flag_abuse needs them and they are few. Stations read ``station_reading``;
outlets read the judged ``outlet_hour`` (measured hourly means and process signals) plus the
flagged minute values of ``hj212_minute``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from analytics.falsification.audit_series import AuditSeries
from config.outlets import Outlet
from config.stations import Station
from ingest.influx_store import InfluxStore, parse_tags, quote_ident
from ingest.line_protocol import STATION_MEASUREMENT

HOUR_S = 3600
MEASURED = "NT"
STATION_FIELDS = ("pm25", "pm10", "so2", "no2", "o3", "co")
OUTLET_POLLUTANTS = ("particulate", "so2", "nox")
OUTLET_HOUR_MEASUREMENT = "outlet_hour"
MINUTE_MEASUREMENT = "hj212_minute"
# outlet_hour keeps flow in m³/s (HJ 212 units); bundles and detectors use m³/h.
M3H_PER_M3S = 3600.0


def _grid(start_s: int, end_s: int) -> np.ndarray:
    return np.arange(start_s, end_s, HOUR_S, dtype=np.int64).astype("datetime64[s]")


def flagged_hours(store: InfluxStore, measurement: str, tag: str, fields: Sequence[str],
                  sources: Sequence[str], start_s: int, end_s: int
                  ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per field: (mean of the hour's non-measured values, commonest flag as S1), NaN/N elsewhere.

    One raw query for the rows where any field carries a flag other than N or T.
    """
    shape = (len(sources), (end_s - start_s) // HOUR_S)
    out = {f: (np.full(shape, np.nan), np.full(shape, b"N", dtype="S1")) for f in fields}
    condition = " OR ".join(f"({quote_ident(f + '_flag')} != 'N' AND "
                            f"{quote_ident(f + '_flag')} != 'T')" for f in fields)
    select = ", ".join(f"{quote_ident(f)}, {quote_ident(f + '_flag')}" for f in fields)
    frame = store.query_frame(
        f"SELECT {select} FROM {quote_ident(measurement)} WHERE time >= {start_s}s AND "
        f"time < {end_s}s AND ({condition}) GROUP BY {quote_ident(tag)}")
    if frame.empty:
        return out
    index_of = {s: i for i, s in enumerate(sources)}
    frame["row"] = frame["tags"].map(lambda t: index_of.get(parse_tags(t).get(tag, ""), -1))
    frame["col"] = (frame["time"] // 1_000_000_000 - start_s) // HOUR_S
    frame = frame[frame["row"] >= 0]
    for field in fields:
        flag_column = f"{field}_flag"
        if flag_column not in frame:
            continue
        part = frame[~frame[flag_column].isin(list(MEASURED)) & frame[flag_column].notna()]
        if part.empty:
            continue
        means = part.groupby(["row", "col"])[field].mean()
        commonest = part.groupby(["row", "col"])[flag_column].agg(lambda s: s.mode().iloc[0])
        rows = means.index.get_level_values(0).to_numpy()
        cols = means.index.get_level_values(1).to_numpy()
        out[field][0][rows, cols] = means.to_numpy(dtype=np.float64)
        out[field][1][rows, cols] = commonest.astype(str).str.encode("ascii").to_numpy()
    return out


def _merge(measured: np.ndarray, flagged: tuple[np.ndarray, np.ndarray]
           ) -> tuple[np.ndarray, np.ndarray]:
    """Measured hours stay N; hours with no measured value take the flagged mean and flag."""
    value, flag = flagged
    use_flagged = np.isnan(measured) & (flag != b"N")
    return np.where(use_flagged, value, measured), np.where(use_flagged, flag, b"N").astype("S1")


def station_series(store: InfluxStore, stations: Sequence[Station], start_s: int, end_s: int,
                   tz: str) -> AuditSeries:
    """Hourly station values over [start_s, end_s) (whole hours), with flags and coordinates."""
    ids = [s.id for s in stations]
    measured = store.read_hourly_window(STATION_MEASUREMENT, "station", STATION_FIELDS, ids,
                                        start_s, end_s, valid_flags=MEASURED)
    flagged = flagged_hours(store, STATION_MEASUREMENT, "station", STATION_FIELDS,
                            measured.sources, start_s, end_s)
    values, flags = {}, {}
    for field in STATION_FIELDS:
        values[field], flags[field] = _merge(measured.values[field], flagged[field])
    by_id = {s.id: s for s in stations}
    coordinate = {name: np.array([getattr(by_id[s], name) if s in by_id else np.nan
                                  for s in measured.sources], dtype=np.float64)
                  for name in ("lat", "lon")}
    return AuditSeries("station", tuple(measured.sources), _grid(start_s, end_s), values, flags,
                       tz=tz, lat=coordinate["lat"], lon=coordinate["lon"])


def outlet_series(store: InfluxStore, outlets: Mapping[str, Outlet], start_s: int, end_s: int,
                  tz: str) -> AuditSeries:
    """Hourly outlet values over [start_s, end_s): measured pollutants (mg/m³), O2 (%), flow
    (m³/h), temperature (°C); hours the stack reported stopped are flagged F."""
    fields = (*OUTLET_POLLUTANTS, "process_o2", "process_flow", "process_temperature", "stopped")
    window = store.read_hourly_window(OUTLET_HOUR_MEASUREMENT, "mn", fields, list(outlets),
                                      start_s, end_s)
    sources = window.sources
    flagged = flagged_hours(store, MINUTE_MEASUREMENT, "mn", OUTLET_POLLUTANTS, sources,
                            start_s, end_s)
    stopped = window.values["stopped"] >= 1.0
    values: dict[str, np.ndarray] = {}
    flags: dict[str, np.ndarray] = {}
    for pollutant in OUTLET_POLLUTANTS:
        values[pollutant], flags[pollutant] = _merge(window.values[pollutant], flagged[pollutant])
        flags[pollutant] = np.where(stopped & (flags[pollutant] == b"N"), b"F",
                                    flags[pollutant]).astype("S1")
    values["o2"] = window.values["process_o2"]
    values["flow"] = window.values["process_flow"] * M3H_PER_M3S
    values["temperature"] = window.values["process_temperature"]
    known = [outlets.get(s) for s in sources]
    limits = {p: np.array([o.limits.get(p, np.nan) if o is not None else np.nan for o in known],
                          dtype=np.float64) for p in OUTLET_POLLUTANTS}
    reference = np.array([o.reference_o2 if o is not None and o.reference_o2 is not None
                          else np.nan for o in known], dtype=np.float64)
    return AuditSeries("outlet", tuple(sources), _grid(start_s, end_s), values, flags, tz=tz,
                       lat=np.array([o.lat if o is not None and o.lat is not None else np.nan
                                     for o in known], dtype=np.float64),
                       lon=np.array([o.lon if o is not None and o.lon is not None else np.nan
                                     for o in known], dtype=np.float64),
                       reference_o2=reference, limits=limits)

