"""Loading the Beijing data set: grid, units, UTC times, errors."""

from __future__ import annotations

import csv
import gzip
import math
from pathlib import Path

import numpy as np
import pytest

from simulators.beijing_replay import DEFAULT_DATA_PATH, load_beijing

pytestmark = pytest.mark.usefixtures("beijing_data")
COLUMNS = {"pm25": "PM2.5", "pm10": "PM10", "so2": "SO2", "no2": "NO2", "o3": "O3", "co": "CO"}


def _csv_row(station: str, year: int, month: int, day: int, hour: int) -> dict[str, str]:
    with gzip.open(DEFAULT_DATA_PATH, "rt", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["station"] == station and (
                (int(row["year"]), int(row["month"]), int(row["day"]), int(row["hour"]))
                == (year, month, day, hour)
            ):
                return row
    raise AssertionError(f"no CSV row for {station} {year}-{month}-{day} {hour}h")


@pytest.fixture(scope="module")
def two_days():
    return load_beijing(stations=["Dongsi", "Aotizhongxin"], start="2016-12-15", end="2016-12-17")


def test_shape_and_station_order(two_days) -> None:
    assert two_days.sources == ("Dongsi", "Aotizhongxin")
    assert set(two_days.values) == set(COLUMNS)
    for values in two_days.values.values():
        assert values.shape == (2, 48)
    assert two_days.step_s == 3600


def test_times_are_utc_hour_starts(two_days) -> None:
    assert two_days.times.dtype == np.dtype("datetime64[s]")
    assert two_days.times[0] == np.datetime64("2016-12-14T16:00:00")
    assert two_days.times[-1] == np.datetime64("2016-12-16T15:00:00")


def test_first_value_matches_the_csv_with_co_in_mg(two_days) -> None:
    row = _csv_row("Dongsi", 2016, 12, 15, 0)
    for pollutant, column in COLUMNS.items():
        expected = float(row[column]) if row[column] else math.nan
        if pollutant == "co":
            expected /= 1000
        assert two_days.values[pollutant][0, 0] == pytest.approx(expected, nan_ok=True)


def test_missing_hours_are_nan_on_a_complete_grid() -> None:
    # Whole data set: every station on one hourly grid, a few percent missing per pollutant.
    window = load_beijing(start="2016-01-01", end="2016-02-01")
    assert window.values["pm25"].shape == (12, 31 * 24)
    missing = np.isnan(window.values["pm25"]).mean()
    assert 0 <= missing < 0.2


def test_aware_start_is_converted_and_partial_hours_round_up() -> None:
    window = load_beijing(
        stations=["Dongsi"], start="2016-12-14T16:30:00+00:00", end="2016-12-15 03:00"
    )
    # 16:30Z = 00:30 local → first full hour 01:00 local = 17:00Z; end 03:00 local exclusive.
    assert window.times[0] == np.datetime64("2016-12-14T17:00:00")
    assert window.times[-1] == np.datetime64("2016-12-14T18:00:00")


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv.gz"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        load_beijing(missing)


def test_unknown_station_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="Dongsi"):
        load_beijing(stations=["Atlantis"], start="2016-12-15", end="2016-12-16")


def test_empty_range_is_an_error() -> None:
    with pytest.raises(ValueError, match="no hours"):
        load_beijing(stations=["Dongsi"], start="2016-12-15", end="2016-12-15")
