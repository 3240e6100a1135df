"""The synthetic network: shapes, seeded determinism, diurnal cycle, episodes as ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from simulators.station_network import Episode, generate_network

START = np.datetime64("2016-11-30T16:00:00", "s")  # 2016-12-01 00:00 local (UTC+8)
DAYS = 60
POLLUTANTS = ("pm25", "pm10", "so2", "no2", "o3", "co")


@pytest.fixture(scope="module")
def network() -> tuple:
    return generate_network(8, START, DAYS * 24, seed=7)


def test_shapes_names_and_grid(network: tuple) -> None:
    window, episodes = network
    assert window.sources == tuple(f"SIM{i:03d}" for i in range(1, 9))
    assert set(window.values) == set(POLLUTANTS)
    for pollutant in POLLUTANTS:
        assert window.values[pollutant].shape == (8, DAYS * 24)
    assert window.times.dtype == np.dtype("datetime64[s]")
    assert window.times[0] == START
    assert window.step_s == 3600
    assert all(isinstance(e, Episode) for e in episodes)


def test_other_step_sizes() -> None:
    window, _ = generate_network(3, START, 144, step_s=600, seed=1)
    assert window.values["pm25"].shape == (3, 144)
    assert np.all(np.diff(window.times).astype(np.int64) == 600)


def test_same_seed_same_output_other_seed_different(network: tuple) -> None:
    window, episodes = network
    again, episodes_again = generate_network(8, START, DAYS * 24, seed=7)
    other, episodes_other = generate_network(8, START, DAYS * 24, seed=8)
    for pollutant in POLLUTANTS:
        np.testing.assert_array_equal(window.values[pollutant], again.values[pollutant])
        assert not np.allclose(window.values[pollutant], other.values[pollutant])
    assert episodes == episodes_again
    assert episodes != episodes_other


def test_values_finite_positive_and_pm10_above_pm25(network: tuple) -> None:
    window, _ = network
    for pollutant in POLLUTANTS:
        values = window.values[pollutant]
        assert np.all(np.isfinite(values)), pollutant
        assert np.all(values > 0), pollutant
    assert np.all(window.values["pm10"] >= window.values["pm25"])
    assert 0.1 < np.median(window.values["co"]) < 5.0  # mg/m³, not µg/m³


def test_diurnal_cycle_evening_above_midday(network: tuple) -> None:
    window, _ = network
    local_hour = (window.times.astype(np.int64) + 8 * 3600) % 86400 // 3600
    pm25 = window.values["pm25"]
    evening = pm25[:, (local_hour >= 19) & (local_hour <= 22)].mean()
    midday = pm25[:, (local_hour >= 12) & (local_hour <= 15)].mean()
    assert evening > 1.3 * midday
    o3 = window.values["o3"]
    assert o3[:, (local_hour >= 13) & (local_hour <= 16)].mean() > 2 * o3[:, local_hour <= 5].mean()


def test_o3_anticorrelated_with_no2_at_the_same_hour(network: tuple) -> None:
    window, _ = network
    local_hour = (window.times.astype(np.int64) + 8 * 3600) % 86400 // 3600
    afternoon = local_hour == 15
    no2 = window.values["no2"][:, afternoon].ravel()
    o3 = window.values["o3"][:, afternoon].ravel()
    assert np.corrcoef(no2, o3)[0, 1] < -0.3


def test_episodes_raise_daily_means_where_ground_truth_says(network: tuple) -> None:
    window, episodes = network
    assert len(episodes) >= 3
    regional = np.median(window.values["pm25"], axis=0)
    csum = np.concatenate([[0.0], np.cumsum(regional)])
    daily = (csum[24:] - csum[:-24]) / 24  # 24-h mean of the hours starting at each index
    day_start = window.times[: len(daily)]
    day_end = day_start + np.timedelta64(24 * 3600, "s")
    near_episode = np.zeros(len(daily), dtype=bool)
    margin = np.timedelta64(12 * 3600, "s")
    for episode in episodes:
        assert window.times[0] <= episode.start < episode.end <= window.times[-1]
        assert 150 <= episode.peak_pm25 <= 400
        assert 2 * 86400 <= (episode.end - episode.start).astype(np.int64) <= 6 * 86400
        inside = (day_start >= episode.start) & (day_end <= episode.end)
        assert daily[inside].max() > 0.6 * episode.peak_pm25
        near_episode |= (day_end > episode.start - margin) & (day_start < episode.end + margin)
    clean = daily[~near_episode]
    assert clean.size > 10 * 24
    assert clean.max() < 100
    assert min(daily[(day_start >= e.start) & (day_end <= e.end)].max() for e in episodes) > (
        2.5 * np.median(clean)
    )


def test_rejects_empty_shapes() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        generate_network(0, START, 10)
