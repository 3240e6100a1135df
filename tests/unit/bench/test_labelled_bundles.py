"""Labelled bundles: formats.md §3 files, and every truth event really is in the data.

One month (January 2016, the boilers' heating season) with 8 outlets, labelled and clean with
the same seed; each truth event is checked against the clean twin for the change its type
describes.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analytics.findings import FINDING_TYPES
from bench.labelled_bundles import (
    ABSURD_FLOOR,
    INJECTED_DECIMALS,
    OUTLET_HOURS,
    OUTLET_PARAMETERS,
    OUTLET_POLLUTANTS,
    SEPARATION_H,
    SOURCE_COLUMNS,
    STATION_HOURS,
    STATION_POLLUTANTS,
    generate_bundle,
)
from ingest.audit_bundle import read_bundle

SEED = 7
START = "2016-01-01"
N_OUTLETS = 8
HOURS = 31 * 24
FLAGS = set("NFMSDCTB")
TIME_PATTERN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:00:00\+08:00$")


@dataclass
class Bundle:
    """A bundle's files as arrays: values/flags[(source, parameter)] over the hour grid."""

    path: Path
    sources: pd.DataFrame
    values: dict[tuple[str, str], np.ndarray]
    flags: dict[tuple[str, str], np.ndarray]
    first: pd.Timestamp
    truth: list[dict[str, Any]]

    def hour(self, text: str) -> int:
        return int((pd.Timestamp(text) - self.first) / pd.Timedelta(hours=1))

    def span(self, event: dict[str, Any]) -> slice:
        return slice(self.hour(event["start"]), self.hour(event["end"]) + 1)

    def source(self, source_id: str) -> pd.Series:
        return self.sources.set_index("id").loc[source_id]

    def converted(self, mn: str, pollutant: str) -> np.ndarray:
        """Outlet concentration at the reference O2 (as measured without one)."""
        reference = self.source(mn)["reference_o2"]
        measured = self.values[(mn, pollutant)]
        if not reference:
            return measured
        return measured * (21.0 - float(reference)) / (21.0 - self.values[(mn, "o2")])

    def limit(self, mn: str, pollutant: str) -> float:
        return float(self.source(mn)[f"limit_{pollutant}"])


def load(path: Path) -> Bundle:
    sources = pd.read_csv(path / "sources.csv", dtype=str, keep_default_na=False)
    readings = pd.read_csv(path / "readings.csv", dtype={"value": float, "flag": str},
                           keep_default_na=False, na_values={"value": [""]})
    when = pd.to_datetime(readings["time"], format="ISO8601", utc=True)
    first = when.min()
    hours = ((when - first) / pd.Timedelta(hours=1)).astype(int).to_numpy()
    values: dict[tuple[str, str], np.ndarray] = {}
    flags: dict[tuple[str, str], np.ndarray] = {}
    for (source, parameter), group in readings.groupby(["source", "pollutant"], sort=False):
        at = hours[group.index.to_numpy()]
        values[(source, parameter)] = np.full(HOURS, np.nan)
        values[(source, parameter)][at] = group["value"].to_numpy()
        flags[(source, parameter)] = np.full(HOURS, "N", dtype="<U1")
        flags[(source, parameter)][at] = group["flag"].replace("", "N").to_numpy()
    with (path / "truth.jsonl").open(encoding="utf-8") as handle:
        truth = [json.loads(line) for line in handle if line.strip()]
    return Bundle(path, sources, values, flags, first, truth)


@pytest.fixture(scope="module")
def bundles(beijing_data: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> tuple[Bundle, Bundle]:
    root = tmp_path_factory.mktemp("bundles")
    returned = generate_bundle(root / "labelled", seed=SEED, start=START, months=1,
                               n_outlets=N_OUTLETS, data_path=beijing_data)
    clean_returned = generate_bundle(root / "clean", seed=SEED, start=START, months=1,
                                     n_outlets=N_OUTLETS, clean=True, data_path=beijing_data)
    labelled, clean = load(root / "labelled"), load(root / "clean")
    assert returned == labelled.truth
    assert clean_returned == []
    return labelled, clean


def events(bundle: Bundle, kind: str, type_: str) -> list[dict[str, Any]]:
    return [e for e in bundle.truth if e["kind"] == kind and e["type"] == type_]


# ------------------------------------------------------------------------ files (formats §3)


def test_sources_follow_formats_3(bundles: tuple[Bundle, Bundle]) -> None:
    labelled, clean = bundles
    with (labelled.path / "sources.csv").open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    assert tuple(header) == SOURCE_COLUMNS
    sources = labelled.sources
    assert sources["id"].is_unique
    assert sources["kind"].value_counts().to_dict() == {"station": 12, "outlet": N_OUTLETS}
    stations = sources[sources["kind"] == "station"]
    assert "Dongsi" in set(stations["id"])
    assert (stations[["enterprise", "industry", "reference_o2", "limit_particulate",
                      "limit_so2", "limit_nox"]] == "").all().all()
    outlets = sources[sources["kind"] == "outlet"]
    assert outlets["id"].str.fullmatch(r"[0-9A-Za-z]{1,24}").all()
    assert (outlets["industry"] != "").all() and (outlets["enterprise"] != "").all()
    for column in ("lat", "lon", "limit_particulate", "limit_so2", "limit_nox"):
        assert (pd.to_numeric(sources.loc[outlets.index, column]) > 0).all()
    assert (pd.to_numeric(stations["lat"]).between(39, 41)).all()
    assert clean.sources.equals(labelled.sources)


def test_readings_follow_formats_3(bundles: tuple[Bundle, Bundle]) -> None:
    labelled, _ = bundles
    frame = pd.read_csv(labelled.path / "readings.csv", dtype=str, keep_default_na=False)
    assert list(frame.columns) == ["time", "source", "pollutant", "value", "flag"]
    assert frame["time"].str.fullmatch(TIME_PATTERN).all()
    kinds = labelled.sources.set_index("id")["kind"]
    kind = frame["source"].map(kinds)
    assert kind.notna().all()
    assert frame.loc[kind == "station", "pollutant"].isin(STATION_POLLUTANTS).all()
    assert frame.loc[kind == "outlet", "pollutant"].isin(OUTLET_PARAMETERS).all()
    assert set(frame["flag"]) <= FLAGS
    numbers = pd.to_numeric(frame["value"].replace("", np.nan), errors="coerce")
    assert (numbers.notna() | (frame["value"] == "")).all()
    assert not frame.duplicated(["time", "source", "pollutant"]).any()
    times = pd.to_datetime(frame["time"], format="ISO8601")
    assert times.min() == pd.Timestamp("2016-01-01T00:00:00+08:00")
    assert times.max() == pd.Timestamp("2016-01-31T23:00:00+08:00")


def test_the_lantian_bundle_reader_takes_every_row(bundles: tuple[Bundle, Bundle]) -> None:
    labelled, _ = bundles
    bundle = read_bundle(labelled.path)
    assert bundle.rejected == []
    assert bundle.stations is not None and bundle.outlets is not None
    assert bundle.stations.shape == (12, HOURS) and bundle.outlets.shape == (N_OUTLETS, HOURS)
    assert bundle.stations.step_s == bundle.outlets.step_s == 3600
    # outlet flow in m³/h: hundreds of thousands for a power unit (280 m³/s at full load)
    flow = bundle.outlets.measured("flow")[0]
    assert 3e5 < np.nanmedian(flow) < 1.2e6


def test_truth_records_are_findings_of_the_brief(bundles: tuple[Bundle, Bundle]) -> None:
    labelled, _ = bundles
    ids = dict(zip(labelled.sources["id"], labelled.sources["kind"], strict=True))
    for event in labelled.truth:
        assert set(event) == {"source", "pollutant", "type", "start", "end", "score",
                              "evidence", "kind"}
        assert event["type"] in FINDING_TYPES
        assert TIME_PATTERN.fullmatch(event["start"]) and TIME_PATTERN.fullmatch(event["end"])
        assert ids[event["source"]] == event["kind"]
        hours = labelled.hour(event["end"]) - labelled.hour(event["start"]) + 1
        assert hours == event["evidence"]["hours"]
        low, high = (STATION_HOURS if event["kind"] == "station" else OUTLET_HOURS)[
            event["type"]]
        assert low <= hours <= high, event
        if event["kind"] == "station":
            assert event["pollutant"] in STATION_POLLUTANTS
        elif event["type"] in ("dilution", "copy_paste"):
            assert event["pollutant"] == "all"
        else:
            assert event["pollutant"] in OUTLET_POLLUTANTS


def test_every_type_appears_several_times(bundles: tuple[Bundle, Bundle]) -> None:
    labelled, _ = bundles
    for kind, types in (("station", STATION_HOURS), ("outlet", OUTLET_HOURS)):
        for type_ in types:
            found = events(labelled, kind, type_)
            assert len(found) >= 3, (kind, type_, len(found))
            durations = {e["evidence"]["hours"] for e in found}
            assert len(durations) > 1, (kind, type_, durations)


def test_strengths_are_spread_over_the_brief_ranges(bundles: tuple[Bundle, Bundle]) -> None:
    labelled, _ = bundles
    ranges = {("outlet", "exceedance", "factor"): (1.2, 3.0),
              ("outlet", "low_variance", "ratio"): (0.02, 0.15),
              ("outlet", "dilution", "air_fraction"): (0.2, 0.6),
              ("outlet", "step_drop", "ratio"): (0.2, 0.6),
              ("outlet", "gap_at_peak", "factor"): (1.5, 3.0),
              ("station", "low_variance", "ratio"): (0.02, 0.15),
              ("station", "neighbor_divergence", "factor"): (0.2, 0.5)}
    for (kind, type_, name), (low, high) in ranges.items():
        drawn = [e["evidence"]["injected"][name] for e in events(labelled, kind, type_)]
        assert all(low <= v <= high for v in drawn), (type_, drawn)
        assert max(drawn) - min(drawn) >= 0.25 * (high - low), (type_, drawn)


def test_events_on_one_source_and_pollutant_keep_apart(bundles: tuple[Bundle, Bundle]) -> None:
    labelled, _ = bundles
    spans: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for event in labelled.truth:
        pollutants = OUTLET_POLLUTANTS if event["pollutant"] == "all" else (event["pollutant"],)
        for p in pollutants:
            spans.setdefault((event["source"], p), []).append(
                (labelled.hour(event["start"]), labelled.hour(event["end"])))
    for key, items in spans.items():
        items.sort()
        for (_, end), (start, _) in itertools.pairwise(items):
            assert start - end - 1 >= SEPARATION_H, key


def test_seeded_generation_is_deterministic(beijing_data: Path, bundles: tuple[Bundle, Bundle],
                                            tmp_path: Path) -> None:
    labelled, _ = bundles
    generate_bundle(tmp_path / "again", seed=SEED, start=START, months=1, n_outlets=N_OUTLETS,
                    data_path=beijing_data)
    for name in ("sources.csv", "readings.csv", "truth.jsonl"):
        assert (tmp_path / "again" / name).read_bytes() == (labelled.path / name).read_bytes()
    other = generate_bundle(tmp_path / "other", seed=SEED + 1, start=START, months=1,
                            n_outlets=N_OUTLETS, data_path=beijing_data)
    assert other != labelled.truth


def test_clean_bundles_have_no_truth_and_the_real_station_data(
        beijing_data: Path, bundles: tuple[Bundle, Bundle]) -> None:
    from simulators.beijing_replay import load_beijing

    _, clean = bundles
    assert clean.truth == []
    assert (clean.path / "truth.jsonl").read_text() == ""
    raw = load_beijing(beijing_data, start="2016-01-01", end="2016-02-01")
    for row, station in enumerate(raw.sources):
        for p in STATION_POLLUTANTS:
            np.testing.assert_allclose(clean.values[(station, p)], raw.values[p][row],
                                       rtol=1e-12)  # CO: 2300 µg/m³ × 1e-3 written 2.3
            assert (clean.flags[(station, p)] == "N").all()
    outlet_flags = np.concatenate([clean.flags[(mn, p)] for mn in clean.sources["id"][12:]
                                   for p in OUTLET_POLLUTANTS])
    assert set(outlet_flags) <= {"N", "F", "M", "D", "C"}


# ---------------------------------------------------------- each event changed the data so


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b, equal_nan=True))


def check_station_event(lab: Bundle, clean: Bundle, event: dict[str, Any]) -> None:
    s, p, span = event["source"], event["pollutant"], lab.span(event)
    new, old = lab.values[(s, p)][span], clean.values[(s, p)][span]
    injected = event["evidence"]["injected"]
    decimals = INJECTED_DECIMALS[p]
    if event["type"] == "impossible_value":
        if injected["mode"] == "negative":
            assert np.all((new < 0) & (new >= -55))
        else:
            assert np.all(new > ABSURD_FLOOR[p])
    elif event["type"] == "flatline":
        assert np.all(new == old[0]) and np.unique(old[~np.isnan(old)]).size >= 3
    elif event["type"] == "low_variance":
        ratio = injected["ratio"]
        assert abs(np.nanmean(new) - np.nanmean(old)) <= 10.0 ** -decimals
        assert abs(np.nanstd(new) - ratio * np.nanstd(old)) <= (
            0.5 * 10.0 ** -decimals + 0.05 * ratio * np.nanstd(old))
        assert np.unique(new[~np.isnan(new)]).size >= 5  # not a flatline
    elif event["type"] == "copy_paste":
        shift = -24 * injected["source_offset_days"]
        earlier = slice(span.start - shift, span.stop - shift)
        assert shift >= len(new)  # the copy does not overlap itself: every hour repeats
        assert _same(new, clean.values[(s, p)][earlier]) and not _same(new, old)
        assert _same(new, lab.values[(s, p)][earlier])
    elif event["type"] == "neighbor_divergence":
        np.testing.assert_allclose(new, old * injected["factor"], atol=0.051)
        lat, lon = (float(lab.source(s)[c]) for c in ("lat", "lon"))
        for other in lab.sources["id"][:12]:
            there = lab.source(other)
            km = math.dist((lat * 111, lon * 85), (float(there["lat"]) * 111,
                                                   float(there["lon"]) * 85))
            if other != s and km <= 40:  # the neighbours keep their real data
                assert _same(lab.values[(other, p)][span], clean.values[(other, p)][span])
    elif event["type"] == "gap_at_peak":
        p90 = np.nanpercentile(clean.values[(s, p)], 90)
        assert np.isnan(new).all() and np.mean(~np.isnan(old)) >= 0.9
        assert old[len(old) // 2] >= p90
    elif event["type"] == "flag_abuse":
        p90 = np.nanpercentile(clean.values[(s, p)], 90)
        assert (lab.flags[(s, p)][span] == injected["flag"]).all()
        assert injected["flag"] in ("M", "D")
        assert _same(new, old) and old[len(old) // 2] >= p90
    else:
        pytest.fail(f"unexpected station type {event['type']}")


def check_outlet_event(lab: Bundle, clean: Bundle, event: dict[str, Any]) -> None:
    mn, p, span = event["source"], event["pollutant"], lab.span(event)
    injected = event["evidence"]["injected"]
    normal = (clean.flags[(mn, "o2")][span] == "N")
    if p != "all":
        normal &= clean.flags[(mn, p)][span] == "N"
        new, old = lab.values[(mn, p)][span], clean.values[(mn, p)][span]
        limit = lab.limit(mn, p)
        converted = lab.converted(mn, p)[span]
    if event["type"] == "exceedance":
        assert np.nanmean(converted) == pytest.approx(injected["factor"] * limit, rel=0.15)
        assert np.nanmax(converted) > limit
        assert np.nanmax(clean.converted(mn, p)[span]) < limit
    elif event["type"] == "flatline":
        assert np.all(new == new[0]) and np.unique(old[normal]).size > 1
    elif event["type"] == "low_variance":
        assert np.nanstd(new) <= 1.5 * injected["ratio"] * np.nanstd(old[normal]) + 1e-4
        assert np.nanmean(new) == pytest.approx(np.nanmean(old[normal]), rel=0.1)
    elif event["type"] == "bunching":
        assert np.all(converted >= 0.98 * injected["low"] * limit)
        assert np.all(converted <= 1.02 * injected["high"] * limit)
    elif event["type"] == "step_drop":
        assert np.median(new[normal] / old[normal]) == pytest.approx(injected["ratio"], abs=0.03)
        for q in ("o2", "flow"):
            ratio = lab.values[(mn, q)][span][normal] / clean.values[(mn, q)][span][normal]
            assert np.median(np.abs(ratio - 1)) < 0.01
    elif event["type"] == "dilution":
        air = injected["air_fraction"]
        for q in OUTLET_POLLUTANTS:
            ratio = lab.values[(mn, q)][span][normal] / clean.values[(mn, q)][span][normal]
            assert np.median(ratio) == pytest.approx(1 - air, rel=0.05)
        flow = lab.values[(mn, "flow")][span][normal] / clean.values[(mn, "flow")][span][normal]
        assert np.median(flow) == pytest.approx(1 / (1 - air), rel=0.03)
        o2_new, o2_old = lab.values[(mn, "o2")][span], clean.values[(mn, "o2")][span]
        assert np.median((o2_new - o2_old)[normal]) == pytest.approx(
            np.median(air * (20.9 - o2_old[normal])), abs=0.3)
    elif event["type"] == "gap_at_peak":
        assert np.isnan(new).all() and not np.isnan(old[normal]).any()
        before = span.start - 1
        assert lab.converted(mn, p)[before] > clean.converted(mn, p)[before]
    elif event["type"] == "flag_abuse":
        assert (lab.flags[(mn, p)][span] == injected["flag"]).all()
        assert np.all(converted >= 0.8 * injected["factor"] * limit)
    elif event["type"] == "copy_paste":
        shift = -24 * injected["source_offset_days"]
        earlier = slice(span.start - shift, span.stop - shift)
        assert shift >= span.stop - span.start
        for q in OUTLET_PARAMETERS:
            assert _same(lab.values[(mn, q)][span], lab.values[(mn, q)][earlier]), q
            assert (lab.flags[(mn, q)][span] == lab.flags[(mn, q)][earlier]).all(), q
        assert not _same(lab.values[(mn, "nox")][span], clean.values[(mn, "nox")][span])
    elif event["type"] == "impossible_value":
        assert np.all(new < 0) and np.all(old[normal] > 0)
    else:
        pytest.fail(f"unexpected outlet type {event['type']}")


def test_every_truth_event_changed_the_data_as_its_type_says(
        bundles: tuple[Bundle, Bundle]) -> None:
    labelled, clean = bundles
    assert len(labelled.truth) >= 50
    for event in labelled.truth:
        check = check_station_event if event["kind"] == "station" else check_outlet_event
        try:
            check(labelled, clean, event)
        except AssertionError as exc:
            raise AssertionError(f"{event}: {exc}") from exc


def test_outside_the_events_stations_keep_their_real_data(
        bundles: tuple[Bundle, Bundle]) -> None:
    labelled, clean = bundles
    touched: dict[tuple[str, str], np.ndarray] = {}
    for event in labelled.truth:
        if event["kind"] == "station":
            key = (event["source"], event["pollutant"])
            mask = touched.setdefault(key, np.zeros(HOURS, bool))
            mask[labelled.span(event)] = True
    for station in labelled.sources["id"][:12]:
        for p in STATION_POLLUTANTS:
            keep = ~touched.get((station, p), np.zeros(HOURS, bool))
            assert _same(labelled.values[(station, p)][keep], clean.values[(station, p)][keep])
            assert (labelled.flags[(station, p)][keep] == "N").all()


def test_hour_labels_are_local_hour_starts(bundles: tuple[Bundle, Bundle]) -> None:
    labelled, _ = bundles
    first = datetime.fromisoformat(labelled.truth[0]["start"])
    assert first.utcoffset() is not None and first.minute == 0
