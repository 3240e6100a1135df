"""InfluxStore.latest_by_tag on real InfluxDB: with `fields`, the newest point holding any of
them (not the newest point of all), nulls left out, tag values with spaces."""

from __future__ import annotations

from ingest.influx_store import InfluxStore


def test_latest_by_tag_reads_only_the_fields_asked(influx_store: InfluxStore) -> None:
    influx_store.write_lines([
        'm,station=A pm25=10.5,pm25_flag="N",n=3i 1000',
        "m,station=A other=1 2000",  # newer, but without the fields asked for
        r'm,station=B\ x pm25=7,pm25_flag="T" 1500',
        "m,station=C pm10=4 1200",
    ])
    chosen = influx_store.latest_by_tag("m", "station", ["pm25", "pm25_flag", "n"])
    assert chosen == {"A": {"time_s": 1000, "pm25": 10.5, "pm25_flag": "N", "n": 3},
                      "B x": {"time_s": 1500, "pm25": 7.0, "pm25_flag": "T"}}
    everything = influx_store.latest_by_tag("m", "station")
    assert everything["A"] == {"time_s": 2000, "other": 1.0}
    assert everything["C"] == {"time_s": 1200, "pm10": 4.0}
    assert set(everything) == {"A", "B x", "C"}
    assert influx_store.latest_by_tag("m", "station", ["nothing"]) == {}
    assert influx_store.latest_by_tag("empty", "station") == {}
