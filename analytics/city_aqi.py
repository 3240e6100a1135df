"""City-level concentrations: per time step, the arithmetic mean over each city's stations."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from analytics.series_window import SeriesWindow


def _membership(sources: tuple[str, ...], city_of_source: Mapping[str, str]) -> tuple[
    tuple[str, ...], np.ndarray
]:
    """Sorted city names and a (cities, sources) 0/1 float matrix of which station is where."""
    cities = tuple(sorted({city_of_source[s] for s in sources if s in city_of_source}))
    row_of_city = {city: i for i, city in enumerate(cities)}
    matrix = np.zeros((len(cities), len(sources)))
    for column, source in enumerate(sources):
        if source in city_of_source:
            matrix[row_of_city[city_of_source[source]], column] = 1.0
    return cities, matrix


def city_means(
    window: SeriesWindow, city_of_source: Mapping[str, str], min_stations: int = 1
) -> tuple[SeriesWindow, np.ndarray]:
    """Per city and time step, the mean over the city's stations of each pollutant.

    `city_of_source` maps station id -> city name; stations absent from it are ignored.
    Means are NaN-aware (a missing station does not count) and NaN where fewer than
    `min_stations` stations have a value. Returns a SeriesWindow on the same time grid whose
    sources are the city names (sorted), in the window's units, and an int64 (cities, times)
    array of how many stations contributed to pm25 (zeros if the window has no pm25).
    City AQI is then ``hourly_aqi(city_window, tz)``. Inputs are not modified.
    """
    if min_stations < 1:
        raise ValueError(f"min_stations must be at least 1, got {min_stations}")
    cities, membership = _membership(window.sources, city_of_source)
    city_values: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    for pollutant, values in window.values.items():
        valid = ~np.isnan(values)
        # (cities × stations) @ (stations × times): sums and counts for every hour at once.
        count = np.rint(membership @ valid.astype(np.float64)).astype(np.int64)
        total = membership @ np.where(valid, values, 0.0)
        enough = count >= min_stations
        city_values[pollutant] = np.where(enough, total / np.where(enough, count, 1), np.nan)
        counts[pollutant] = count
    pm25_counts = counts.get("pm25", np.zeros((len(cities), len(window.times)), dtype=np.int64))
    city_window = SeriesWindow(cities, window.times, city_values, window.step_s)
    return city_window, pm25_counts
