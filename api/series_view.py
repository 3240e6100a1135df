"""A stored series in its public form (SeriesPublic), built by columns rather than per point.

A raw 30-day station series is 43,200 points; formatting each point's time with
`datetime.isoformat()` and testing each value in Python was most of the API's CPU for it. Here
times are formatted with NumPy in one pass and each column is converted once, so the only
per-point Python work left is zipping the finished columns into the points' dicts the public
JSON shape needs ({"time": …, <field>: number | text | null}).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo

import numpy as np
import pandas as pd

from api.schemas import SeriesPublic


def _offset_text(offset_s: int) -> str:
    """A UTC offset as `datetime.isoformat()` writes it: +08:00, -03:30, +00:00 (+hh:mm:ss
    only when it has seconds, as old local mean times do)."""
    sign = "-" if offset_s < 0 else "+"
    hours, rest = divmod(abs(int(offset_s)), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")


def local_iso_times(time_s: np.ndarray, tz: tzinfo) -> list[str]:
    """Unix seconds (int64[n]) as ISO 8601 local times with their offset, exactly as
    `datetime.fromtimestamp(t, UTC).astimezone(tz).isoformat()` writes them."""
    seconds = np.asarray(time_s, dtype="int64")
    if seconds.size == 0:
        return []
    utc = pd.DatetimeIndex(seconds.astype("datetime64[s]"), tz=UTC)
    wall = utc.tz_convert(tz).tz_localize(None).to_numpy().astype("datetime64[s]")
    offset_s = (wall - seconds.astype("datetime64[s]")).astype("int64")
    text = np.datetime_as_string(wall, unit="s")
    offsets, which = np.unique(offset_s, return_inverse=True)
    if offsets.size == 1:  # the usual case: one offset over the whole range
        return np.char.add(text, _offset_text(int(offsets[0]))).tolist()  # type: ignore[no-any-return]
    suffixes = np.array([_offset_text(int(o)) for o in offsets])
    return np.char.add(text, suffixes[which.ravel()]).tolist()  # type: ignore[no-any-return]


def json_column(column: pd.Series | np.ndarray) -> list[object]:
    """One stored field's values for JSON: numbers as float, text as is, missing (NaN) → None.

    Numeric columns (ints and booleans included) become floats; text columns (flags, bases)
    keep their strings. A column mixing text and numbers (a field whose type changed between
    shards) is converted value by value, as the per-point code did.
    """
    values = np.asarray(column)
    if values.dtype == object:
        missing = pd.isna(values)
        if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
            out = values.copy()
            out[missing] = None
            return out.tolist()  # type: ignore[no-any-return]
        return [v if isinstance(v, str) else (None if v != v else float(v)) for v in values]
    numbers = values.astype("float64")
    out = numbers.astype(object)  # Python floats
    out[np.isnan(numbers)] = None
    return out.tolist()  # type: ignore[no-any-return]


def series_points(frame: pd.DataFrame, fields: Sequence[str], tz: tzinfo
                  ) -> list[dict[str, object]]:
    """`frame` (time_s + one column per field, as InfluxStore.read_series returns) as the
    public points: [{"time": local ISO 8601, <field>: value, …}] in frame order."""
    if frame.empty:
        return []
    keys = ("time", *fields)
    columns = [local_iso_times(frame["time_s"].to_numpy(), tz),
               *(json_column(frame[field]) for field in fields)]
    return [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]


def series_public(source: str, frame: pd.DataFrame, fields: list[str], start_s: int,
                  end_s: int, every_s: int | None, tz: tzinfo) -> SeriesPublic:
    """The SeriesPublic of `frame` over [start_s, end_s). Built without validating each point
    (they are made here, already of the schema's types), so returning it costs only the
    JSON encoding."""
    points = series_points(frame, fields, tz)
    return SeriesPublic.model_construct(
        source=source, start=datetime.fromtimestamp(start_s, UTC).astimezone(tz),
        end=datetime.fromtimestamp(end_s, UTC).astimezone(tz), every_s=every_s,
        fields=list(fields), points=points, count=len(points),
    )
