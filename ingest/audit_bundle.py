"""Read an audit bundle (shared/formats.md §3) into AuditSeries, keeping every bad row.

A bundle comes from another platform's export, so it is checked like any other input: a
missing file or column is a BundleError that says which; a bad row (unknown source or
pollutant, unparseable time, value or flag, a value repeated for the same time) is kept as a
RejectedRow with its line number and reason, and the audit goes on with the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.falsification.audit_series import (
    KINDS,
    OUTLET_POLLUTANTS,
    OUTLET_PROCESS,
    STATION_POLLUTANTS,
    AuditSeries,
)

SOURCE_COLUMNS = ("id", "kind", "name", "city", "district", "lat", "lon", "enterprise",
                  "industry", "reference_o2", "limit_particulate", "limit_so2", "limit_nox")
REQUIRED_SOURCE_COLUMNS = ("id", "kind")
READING_COLUMNS = ("time", "source", "pollutant", "value", "flag")
FLAGS = frozenset("NFMSDCTB")
PARAMETERS = {"station": frozenset(STATION_POLLUTANTS),
              "outlet": frozenset(OUTLET_POLLUTANTS + OUTLET_PROCESS)}
LIMIT_POLLUTANTS = ("particulate", "so2", "nox")
# A reading's header line is line 1, so data row i (0-based) is line i + 2.
_FIRST_DATA_LINE = 2
_EPOCH = pd.Timestamp(0, tz="UTC")


class BundleError(ValueError):
    """The bundle cannot be read at all (missing file or column, no usable source)."""


@dataclass(frozen=True)
class RejectedRow:
    """One readings.csv row left out of the audit, with why."""

    line: int
    reason: str
    raw: dict[str, str]


@dataclass(frozen=True)
class AuditBundle:
    """The sources of a bundle as one AuditSeries per kind, the table of sources, the rejects."""

    path: Path
    tz: str
    sources: pd.DataFrame
    stations: AuditSeries | None
    outlets: AuditSeries | None
    rejected: list[RejectedRow] = field(default_factory=list)
    n_readings: int = 0

    def series(self) -> list[AuditSeries]:
        return [s for s in (self.stations, self.outlets) if s is not None]


def _read_csv(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    if not path.is_file():
        raise BundleError(f"{path.name} is missing from the bundle {path.parent}")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise BundleError(f"{path} is not a UTF-8 comma-separated file: {exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise BundleError(f"{path.name} lacks the column(s) {', '.join(missing)} "
                          f"(has {', '.join(frame.columns)})")
    return frame


def _numbers(column: pd.Series) -> pd.Series:
    """Numbers from text; empty → NaN; text that is not a number → NaN too (caller checks)."""
    return pd.to_numeric(column.str.strip().replace("", np.nan), errors="coerce")


def read_sources(path: Path) -> pd.DataFrame:
    """sources.csv checked: unique ids, kinds station/outlet, numeric coordinates and limits."""
    frame = _read_csv(path / "sources.csv", REQUIRED_SOURCE_COLUMNS)
    for column in SOURCE_COLUMNS:
        if column not in frame.columns:
            frame[column] = ""
    frame["id"] = frame["id"].str.strip()
    frame["kind"] = frame["kind"].str.strip()
    problems = []
    duplicated = frame["id"][frame["id"].duplicated()].unique().tolist()
    if duplicated:
        problems.append(f"duplicate id(s) {duplicated}")
    if (frame["id"] == "").any():
        problems.append(f"empty id on line(s) {(frame.index[frame['id'] == ''] + 2).tolist()}")
    bad_kind = ~frame["kind"].isin(KINDS)
    if bad_kind.any():
        problems.append(f"kind must be station or outlet, line(s) "
                        f"{(frame.index[bad_kind] + 2).tolist()} say "
                        f"{frame['kind'][bad_kind].unique().tolist()}")
    for column in ("lat", "lon", "reference_o2", *(f"limit_{p}" for p in LIMIT_POLLUTANTS)):
        text = frame[column].str.strip()
        parsed = _numbers(frame[column])
        bad = (text != "") & parsed.isna()
        if bad.any():
            lines = (frame.index[bad] + 2).tolist()
            problems.append(f"{column} is not a number on line(s) {lines}")
        frame[column] = parsed
    if problems:
        raise BundleError(f"sources.csv: {'; '.join(problems)}")
    if frame.empty:
        raise BundleError("sources.csv lists no source")
    return frame


def _grid_step(seconds: np.ndarray) -> int:
    """The reporting step of a kind's readings: the commonest gap between distinct times."""
    distinct = np.unique(seconds)
    if distinct.size < 2:
        return 3600
    gaps, counts = np.unique(np.diff(distinct), return_counts=True)
    step = int(gaps[counts.argmax()])
    if 3600 % step:
        raise BundleError(f"readings are every {step} s, which does not divide an hour")
    return step


def _series(kind: str, sources: pd.DataFrame, readings: pd.DataFrame, tz: str,
            rejected: list[RejectedRow]) -> AuditSeries | None:
    meta = sources[sources["kind"] == kind].reset_index(drop=True)
    rows = readings[readings["kind"] == kind]
    if meta.empty or rows.empty:
        return None
    seconds = rows["seconds"].to_numpy()
    step = _grid_step(seconds)
    off_grid = (seconds - seconds.min()) % step != 0
    for line in rows.index[off_grid]:
        rejected.append(RejectedRow(int(line) + _FIRST_DATA_LINE,
                                    f"time is off the bundle's {step} s grid", {}))
    rows = rows[~off_grid]
    first, last = int(rows["seconds"].min()), int(rows["seconds"].max())
    first -= first % min(step, 3600)
    times = np.arange(first, last + 1, step, dtype=np.int64).astype("datetime64[s]")
    source_index = pd.Index(meta["id"])
    row_of = source_index.get_indexer(rows["source"])
    column_of = ((rows["seconds"].to_numpy() - first) // step).astype(np.int64)
    shape = (len(meta), len(times))
    values: dict[str, np.ndarray] = {}
    flags: dict[str, np.ndarray] = {}
    for pollutant, group in rows.groupby("pollutant", sort=False):
        picks = rows.index.get_indexer(group.index)
        array = np.full(shape, np.nan)
        flag = np.full(shape, b"N", dtype="S1")
        array[row_of[picks], column_of[picks]] = group["number"].to_numpy()
        flag[row_of[picks], column_of[picks]] = group["flag"].str.encode("ascii").to_numpy()
        values[str(pollutant)] = array
        flags[str(pollutant)] = flag
    limits = {p: meta[f"limit_{p}"].to_numpy(np.float64) for p in LIMIT_POLLUTANTS
              if kind == "outlet" and meta[f"limit_{p}"].notna().any()}
    return AuditSeries(
        kind=kind, sources=tuple(meta["id"]), times=times, values=values, flags=flags,
        step_s=step, tz=tz, lat=meta["lat"].to_numpy(np.float64),
        lon=meta["lon"].to_numpy(np.float64),
        reference_o2=meta["reference_o2"].to_numpy(np.float64) if kind == "outlet" else None,
        limits=limits)


def _reject(frame: pd.DataFrame, bad: pd.Series, reason: str,
            rejected: list[RejectedRow]) -> pd.DataFrame:
    for line, row in frame[bad].iterrows():
        rejected.append(RejectedRow(int(line) + _FIRST_DATA_LINE, reason,
                                    {c: str(row[c]) for c in READING_COLUMNS}))
    return frame[~bad]


def read_bundle(path: Path, tz: str = "Asia/Shanghai") -> AuditBundle:
    """The bundle at `path` as AuditSeries per kind; `tz` is the bureau's zone (local days)."""
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"{path} is not a folder (an audit bundle is a folder holding "
                          "sources.csv and readings.csv)")
    sources = read_sources(path)
    readings = _read_csv(path / "readings.csv", ("time", "source", "pollutant", "value"))
    if "flag" not in readings.columns:
        readings["flag"] = ""
    n_readings = len(readings)
    rejected: list[RejectedRow] = []
    for column in READING_COLUMNS:
        readings[column] = readings[column].str.strip()
    kinds = sources.set_index("id")["kind"]
    readings["kind"] = readings["source"].map(kinds)
    readings = _reject(readings, readings["kind"].isna(), "source is not in sources.csv",
                       rejected)
    allowed = ((readings["kind"] == "station") & readings["pollutant"].isin(STATION_POLLUTANTS)
               | (readings["kind"] == "outlet")
               & readings["pollutant"].isin(PARAMETERS["outlet"]))
    readings = _reject(readings, ~allowed, "pollutant is not one of formats.md "
                       "§3 for this kind of source", rejected)
    when = pd.to_datetime(readings["time"], format="ISO8601", errors="coerce", utc=True)
    has_offset = readings["time"].str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True)
    readings = readings.assign(when=when)
    readings = _reject(readings, when.isna() | ~has_offset, "time is not ISO 8601 with an "
                       "offset", rejected)
    readings["number"] = _numbers(readings["value"])
    readings = _reject(readings, (readings["value"] != "") & readings["number"].isna(),
                       "value is not a number", rejected)
    readings["flag"] = readings["flag"].replace("", "N")
    readings = _reject(readings, ~readings["flag"].isin(FLAGS), "flag is not an HJ 212 data "
                       "flag (N F M S D C T B)", rejected)
    readings["seconds"] = (readings["when"] - _EPOCH) // pd.Timedelta(seconds=1)
    repeated = readings.duplicated(["source", "pollutant", "seconds"], keep="first")
    readings = _reject(readings, repeated, "a second value for the same source, pollutant and "
                       "time (the first one is kept)", rejected)
    if readings.empty:
        raise BundleError(f"readings.csv has no usable row ({len(rejected)} rejected; the first "
                          f"because {rejected[0].reason if rejected else 'it is empty'})")
    rejected.sort(key=lambda r: r.line)
    return AuditBundle(path=path, tz=tz, sources=sources,
                       stations=_series("station", sources, readings, tz, rejected),
                       outlets=_series("outlet", sources, readings, tz, rejected),
                       rejected=rejected, n_readings=n_readings)
