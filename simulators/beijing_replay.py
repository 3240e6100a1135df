"""Load the Beijing multi-site data set (shared/data) into a SeriesWindow for replay."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.series_window import SeriesWindow

DEFAULT_DATA_PATH = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "data"
    / "beijing_multisite_2013_2017.csv.gz"
)
# The data set's clock: local time in Beijing (UTC+8, no DST in 2013–2017).
DATA_TIMEZONE = "Asia/Shanghai"
HOUR_S = 3600

# CSV column → (pollutant, factor to the wire unit): µg/m³, CO µg/m³ → mg/m³.
_POLLUTANT_COLUMNS = {
    "PM2.5": ("pm25", 1.0),
    "PM10": ("pm10", 1.0),
    "SO2": ("so2", 1.0),
    "NO2": ("no2", 1.0),
    "O3": ("o3", 1.0),
    "CO": ("co", 1e-3),
}
_TIME_COLUMNS = ("year", "month", "day", "hour")

LocalTime = str | date | datetime | np.datetime64 | pd.Timestamp


def load_beijing(
    path: Path | str | None = None,
    *,
    stations: Sequence[str] | None = None,
    start: LocalTime | None = None,
    end: LocalTime | None = None,
) -> SeriesWindow:
    """Read the Beijing CSV (gzip) into hourly (stations × hours) arrays.

    `start`/`end` are local times (naive values, strings included, are read in Asia/Shanghai;
    aware ones are converted); `end` is exclusive and partial hours are rounded up to the next
    hour start. Without them the grid spans the first to the last hour present.
    `stations` keeps the given order (default: all, sorted). The result has UTC
    ``datetime64[s]`` hour starts on a complete hourly grid, NaN where the CSV has no value;
    pm25, pm10, so2, no2, o3 in µg/m³, co in mg/m³.
    Raises FileNotFoundError naming the path, ValueError for unknown stations or an empty range.
    """
    csv_path = Path(path) if path is not None else DEFAULT_DATA_PATH
    if not csv_path.is_file():
        raise FileNotFoundError(
            f"Beijing data set not found at {csv_path}; pass its path explicitly (--data PATH)"
        )
    frame = pd.read_csv(
        csv_path,
        usecols=[*_TIME_COLUMNS, *_POLLUTANT_COLUMNS, "station"],
        dtype={
            "year": "int64",
            "month": "int64",
            "day": "int64",
            "hour": "int64",
            "station": "category",
        },
    )
    known = sorted(frame["station"].cat.categories)
    sources = tuple(stations) if stations is not None else tuple(known)
    unknown = sorted(set(sources) - set(known))
    if unknown:
        raise ValueError(f"unknown Beijing stations {unknown}; known: {', '.join(known)}")

    # Restrict rows on cheap integer keys before building any timestamps.
    key = _local_key(*(frame[c].to_numpy() for c in _TIME_COLUMNS))
    start_local = _to_local_hour(start) if start is not None else None
    end_local = _to_local_hour(end) if end is not None else None
    keep = frame["station"].isin(sources).to_numpy()
    if start_local is not None:
        keep = keep & (key >= _timestamp_key(start_local))
    if end_local is not None:
        keep = keep & (key < _timestamp_key(end_local))
    frame = frame.loc[keep]

    utc_s = _local_to_utc_seconds(frame)
    first_s = _utc_seconds(start_local) if start_local is not None else _min_or_none(utc_s)
    stop_s = _utc_seconds(end_local) if end_local is not None else _max_or_none(utc_s)
    if first_s is None or stop_s is None or stop_s <= first_s:
        raise ValueError(f"no hours in the range start={start!r} end={end!r} of {csv_path}")
    if end_local is None:
        stop_s += HOUR_S
    times = np.arange(first_s, stop_s, HOUR_S, dtype=np.int64).astype("datetime64[s]")

    row_of_code = np.array([sources.index(s) if s in sources else -1 for s in known])
    rows = row_of_code[frame["station"].cat.codes.to_numpy()]
    cols = (utc_s - first_s) // HOUR_S
    values: dict[str, np.ndarray] = {}
    for column, (pollutant, factor) in _POLLUTANT_COLUMNS.items():
        array = np.full((len(sources), len(times)), np.nan)
        array[rows, cols] = frame[column].to_numpy(dtype=np.float64) * factor
        values[pollutant] = array
    return SeriesWindow(sources=sources, times=times, values=values, step_s=HOUR_S)


def _local_key(
    year: np.ndarray | int, month: np.ndarray | int, day: np.ndarray | int, hour: np.ndarray | int
) -> np.ndarray:
    """YYYYMMDDHH as int64: orders local hours without building timestamps."""
    return ((np.int64(year) * 100 + month) * 100 + day) * 100 + hour


def _timestamp_key(stamp: pd.Timestamp) -> np.ndarray:
    return _local_key(stamp.year, stamp.month, stamp.day, stamp.hour)


def _to_local_hour(value: LocalTime) -> pd.Timestamp:
    """The first local hour start at or after `value`, as a naive Asia/Shanghai timestamp."""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert(DATA_TIMEZONE).tz_localize(None)
    return stamp.ceil("h")


def _utc_seconds(local: pd.Timestamp) -> int:
    return int(local.tz_localize(DATA_TIMEZONE).timestamp())


def _local_to_utc_seconds(frame: pd.DataFrame) -> np.ndarray:
    """Unix seconds (int64) of each row's local hour start."""
    local = pd.DatetimeIndex(pd.to_datetime(frame[list(_TIME_COLUMNS)]))
    utc = local.tz_localize(DATA_TIMEZONE).tz_convert("UTC").tz_localize(None)
    return utc.as_unit("s").to_numpy().astype(np.int64)


def _min_or_none(seconds: np.ndarray) -> int | None:
    return int(seconds.min()) if seconds.size else None


def _max_or_none(seconds: np.ndarray) -> int | None:
    return int(seconds.max()) if seconds.size else None
