"""The ingest latency benchmark's pure parts: message layout, bucket decoding, pacing, summary."""

from __future__ import annotations

import itertools

import orjson
import pandas as pd
import pytest

from bench.ingest_latency import (
    T0,
    complete_messages,
    latency_messages,
    publish_paced,
    summarize,
)


def test_each_message_is_one_station_and_one_aligned_time_bucket() -> None:
    messages = latency_messages(n_messages=4, per_message=100, stations=3)
    assert [topic for topic, _ in messages] == [
        "lantian/v1/station/B0000/reading", "lantian/v1/station/B0001/reading",
        "lantian/v1/station/B0002/reading", "lantian/v1/station/B0000/reading"]
    times = [[r["time"] for r in orjson.loads(body)] for _, body in messages]
    for k, bucket in enumerate(times):
        assert bucket == list(range(T0 + 100 * k, T0 + 100 * (k + 1)))
    assert T0 % 10_000 == 0
    assert len({body for _, body in messages}) == 4  # payloads identify their message


def test_a_message_size_that_would_straddle_buckets_is_refused() -> None:
    with pytest.raises(ValueError, match="divisor of 10,000"):
        latency_messages(n_messages=1, per_message=3, stations=1)


def test_single_reading_messages_are_objects_with_distinct_times() -> None:
    messages = latency_messages(n_messages=3, per_message=1, stations=500)
    bodies = [orjson.loads(body) for _, body in messages]
    assert [b["time"] for b in bodies] == [T0, T0 + 1, T0 + 2]


def test_complete_messages_keeps_only_full_buckets() -> None:
    ns = 1_000_000_000
    frame = pd.DataFrame({"name": ["station_reading"] * 3,
                          "time": [(T0 + 0) * ns, (T0 + 10) * ns, (T0 + 30) * ns],
                          "count": [10, 7, 10]})
    assert complete_messages(frame, per_message=10) == [0, 3]
    assert complete_messages(pd.DataFrame(columns=["name", "tags", "time"]), 10) == []


def test_summarize_gives_milliseconds_with_linear_percentiles() -> None:
    figures = summarize([k / 1000 for k in range(1, 101)])  # 1 … 100 ms
    assert figures["n"] == 100
    assert figures["p50_ms"] == pytest.approx(50.5)
    assert figures["p90_ms"] == pytest.approx(90.1)
    assert figures["p99_ms"] == pytest.approx(99.01)
    assert figures["max_ms"] == pytest.approx(100.0)
    with pytest.raises(ValueError, match="no latencies"):
        summarize([])


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_publish_paced_holds_a_steady_rate_and_stamps_before_sending() -> None:
    clock = FakeClock()
    sent: list[tuple[str, float]] = []
    stamps: list[float] = []

    def send(topic: str, body: bytes) -> None:
        assert len(stamps) == len(sent) + 1  # stamped before it went out
        sent.append((topic, clock.now))

    messages = [(f"t{k}", b"x") for k in range(1000)]
    publish_paced(messages, 100.0, send, stamps, clock=clock, sleep=clock.sleep)
    assert [topic for topic, _ in sent] == [f"t{k}" for k in range(1000)]
    assert stamps == [at for _, at in sent]
    # a burst of 2 tokens at start, then one message every 10 ms
    assert stamps[:3] == [0.0, 0.0, pytest.approx(0.01)]
    assert (len(stamps) - 1) / (stamps[-1] - stamps[0]) == pytest.approx(100.0, rel=0.01)
    gaps = [b - a for a, b in itertools.pairwise(stamps[2:])]
    assert max(gaps) == pytest.approx(0.01) and min(gaps) == pytest.approx(0.01)
