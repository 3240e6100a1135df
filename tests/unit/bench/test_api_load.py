"""The API benchmark's pure helpers: generated data, batching, percentiles, summaries, profiles."""

from __future__ import annotations

import itertools
import math

import pytest

from bench.api_load import (
    DAYS,
    END_S,
    MINUTE_S,
    SERIES_LIMIT,
    batches,
    latest_lines,
    minute_lines,
    parse_levels,
    percentile,
    route_params,
    run_load,
    station_ids,
    station_register,
    summarize,
    top_frames,
)
from config.stations import StationRegister
from ingest.line_protocol import STATION_MEASUREMENT


def test_register_is_valid_and_unique() -> None:
    ids = station_ids(300)
    register = StationRegister.model_validate(station_register(ids))
    assert [s.id for s in register.stations] == ids
    assert len(set(ids)) == 300
    assert all(s.interval_s == MINUTE_S for s in register.stations)


def test_register_is_seeded() -> None:
    ids = station_ids(5)
    assert station_register(ids) == station_register(ids)


def test_latest_lines_give_each_station_a_reading_and_two_aqi_points() -> None:
    ids = station_ids(4)
    lines = latest_lines(ids, END_S)
    assert len(lines) == 3 * len(ids)
    readings = [line for line in lines if line.startswith(f"{STATION_MEASUREMENT},")]
    assert [line.split(" ")[0].split("=")[1] for line in readings] == ids
    assert all(line.endswith(f" {END_S - MINUTE_S}") for line in readings)
    assert all('pm25_flag="N"' in line for line in readings)


def test_minute_lines_cover_thirty_days_every_minute() -> None:
    start = END_S - DAYS * 86400
    lines = list(minute_lines("S1", start, END_S))
    assert len(lines) == DAYS * 1440 == 43_200
    times = [int(line.rsplit(" ", 1)[1]) for line in lines]
    assert times[0] == start and times[-1] == END_S - MINUTE_S
    assert all(b - a == MINUTE_S for a, b in itertools.pairwise(times))


def test_batches_split_without_loss() -> None:
    chunks = list(batches(iter(range(12)), 5))
    assert [len(c) for c in chunks] == [5, 5, 2]
    assert [x for c in chunks for x in c] == list(range(12))
    assert list(batches([], 5)) == []
    with pytest.raises(ValueError):
        list(batches([1], 0))


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile(values, 0) == 1.0
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_summarize_rates_latency_and_cpu_per_request() -> None:
    result = summarize("api latest", 8, [0.3, 0.1, 0.2, 0.4], errors=0, seconds=2.0,
                       body_bytes=4_000_000, cpu={"api": 1.0, "influx": 0.2})
    assert result.requests == 4
    assert result.rps == 2.0
    assert result.p50_ms == 200.0
    assert result.p99_ms == 400.0
    assert result.max_ms == 400.0
    assert result.mb_per_s == 2.0
    assert result.api_cpu_s_per_req == 0.25
    assert result.influx_cpu_s_per_req == 0.05
    assert result.error_kinds is None


def test_summarize_of_nothing_done() -> None:
    result = summarize("x", 1, [], errors=3, seconds=1.0, body_bytes=0,
                       error_kinds={"RuntimeError: 503": 3})
    assert result.requests == 0 and result.errors == 3 and result.rps == 0.0
    assert result.error_kinds == {"RuntimeError: 503": 3}
    assert math.isnan(result.p50_ms)
    assert result.api_cpu_s_per_req is None


def test_run_load_counts_successes_and_errors() -> None:
    def make() -> object:
        state = {"n": 0}

        def call() -> int:
            state["n"] += 1
            if state["n"] % 2 == 0:
                raise RuntimeError("every second call fails")
            return 10
        return call

    latencies, errors, elapsed, size = run_load(make, 3, 0.05)  # type: ignore[arg-type]
    assert len(latencies) > 0 and errors.total() > 0
    assert set(errors) == {"RuntimeError: every second call fails"}
    assert abs(len(latencies) - errors.total()) <= 3  # alternating per thread
    assert size == 10 * len(latencies)
    assert elapsed >= 0.05


def test_route_params_ask_for_the_thirty_days() -> None:
    assert route_params("latest", "S1") == ("/api/stations", {})
    path, raw = route_params("series-raw", "S1")
    assert path == "/api/stations/S1/series"
    assert raw["limit"] == str(SERIES_LIMIT) and SERIES_LIMIT >= DAYS * 1440
    assert raw["start"].endswith("+00:00") and raw["end"].endswith("+00:00")
    _, hourly = route_params("series-hourly", "S1")
    assert hourly["every_s"] == "3600"
    with pytest.raises(ValueError):
        route_params("nope", "S1")


def test_parse_levels() -> None:
    assert parse_levels("1, 8,32") == [1, 8, 32]
    for bad in ("", "0,4", "-1"):
        with pytest.raises(ValueError):
            parse_levels(bad)


def test_top_frames_count_each_frame_once_per_stack() -> None:
    collapsed = [
        "main (a.py:1);handler (b.py:2);handler (b.py:2);json (c.py:3) 6",
        "main (a.py:1);query (d.py:4) 4",
        "garbage line",
    ]
    frames = dict(top_frames(collapsed, 10))
    assert frames["main (a.py:1)"] == 1.0
    assert frames["handler (b.py:2)"] == 0.6
    assert frames["query (d.py:4)"] == 0.4
    assert top_frames(collapsed, 1) == [("main (a.py:1)", 1.0)]
    assert top_frames([]) == []


def test_top_frames_self_time_and_skipped_plumbing() -> None:
    collapsed = [
        "run (threading.py:1);handler (b.py:2);json (c.py:3) 6",
        "run (threading.py:1);query (d.py:4) 4",
    ]
    assert top_frames(collapsed, 10, leaf=True) == [("json (c.py:3)", 0.6),
                                                    ("query (d.py:4)", 0.4)]
    inclusive = dict(top_frames(collapsed, 10))
    assert "run (threading.py:1)" not in inclusive
    assert inclusive["handler (b.py:2)"] == 0.6
