"""The benchmark's scorer: the matching rule of the detector brief, counts and rates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from bench.score_findings import Score, TypeScore, combine, markdown_table, score

BEIJING = timezone(timedelta(hours=8))
T0 = datetime(2016, 1, 10, 0, tzinfo=BEIJING)


def record(source: str, pollutant: str, type_: str, start_h: int, end_h: int,
           tz: timezone = BEIJING) -> dict[str, Any]:
    """A finding record whose start/end are hours after T0, written in `tz`."""
    return {"source": source, "pollutant": pollutant, "type": type_,
            "start": (T0 + timedelta(hours=start_h)).astimezone(tz).isoformat(),
            "end": (T0 + timedelta(hours=end_h)).astimezone(tz).isoformat(),
            "score": 1.0, "evidence": {}}


def test_a_finding_overlapping_its_event_matches() -> None:
    truth = [record("MN1", "so2", "step_drop", 10, 40)]
    result = score([record("MN1", "so2", "step_drop", 20, 30)], truth, source_days=10)
    counts = result.of("step_drop")
    assert (counts.events, counts.events_found, counts.findings, counts.findings_true) == (
        1, 1, 1, 1)
    assert counts.recall == 1.0 and counts.precision == 1.0
    assert result.false_per_100_source_days() == 0.0


@pytest.mark.parametrize(("start_h", "end_h", "matches"), [
    (43, 50, True),   # starts 3 h after the event's last hour: within the tolerance
    (44, 50, False),  # 4 h after: no
    (0, 7, True),     # ends 3 h before the event's first hour
    (0, 6, False),
])
def test_spans_match_within_the_tolerance_only(start_h: int, end_h: int, matches: bool) -> None:
    truth = [record("MN1", "nox", "flatline", 10, 40)]
    result = score([record("MN1", "nox", "flatline", start_h, end_h)], truth, source_days=1)
    assert result.of("flatline").findings_true == int(matches)
    assert result.of("flatline").events_found == int(matches)


def test_tolerance_is_a_parameter() -> None:
    truth = [record("MN1", "nox", "flatline", 10, 40)]
    finding = [record("MN1", "nox", "flatline", 46, 50)]
    assert score(finding, truth, source_days=1).of("flatline").findings_true == 0
    assert score(finding, truth, source_days=1, tolerance_h=6).of("flatline").findings_true == 1


def test_times_in_other_offsets_are_compared_as_instants() -> None:
    truth = [record("MN1", "so2", "exceedance", 10, 12)]
    finding = [record("MN1", "so2", "exceedance", 11, 11, tz=UTC)]
    assert score(finding, truth, source_days=1).of("exceedance").findings_true == 1


@pytest.mark.parametrize(("finding", "matches"), [
    (record("MN1", "so2", "dilution", 5, 8), True),          # event pollutant is "all"
    (record("MN1", "all", "dilution", 5, 8), True),
    (record("MN2", "so2", "dilution", 5, 8), False),         # other source
    (record("MN1", "so2", "step_drop", 5, 8), False),        # other type
])
def test_source_and_type_must_be_equal_pollutant_all_matches_any(finding: dict[str, Any],
                                                                 matches: bool) -> None:
    truth = [record("MN1", "all", "dilution", 4, 20)]
    result = score([finding], truth, source_days=1)
    assert result.of("dilution").events_found == int(matches)
    assert result.of(finding["type"]).findings_true == int(matches)


def test_a_finding_of_all_matches_an_event_of_one_pollutant_and_not_another_pollutant() -> None:
    truth = [record("Dongsi", "pm25", "copy_paste", 30, 60)]
    assert score([record("Dongsi", "all", "copy_paste", 30, 60)], truth,
                 source_days=1).of("copy_paste").events_found == 1
    assert score([record("Dongsi", "pm10", "copy_paste", 30, 60)], truth,
                 source_days=1).of("copy_paste").events_found == 0


def test_recall_counts_events_precision_counts_findings() -> None:
    truth = [record("A", "pm25", "flatline", 0, 10), record("A", "pm25", "flatline", 100, 110),
             record("B", "no2", "flatline", 0, 10)]
    findings = [
        record("A", "pm25", "flatline", 2, 4), record("A", "pm25", "flatline", 6, 8),  # 1 event
        record("C", "pm25", "flatline", 0, 10),  # false
    ]
    counts = score(findings, truth, source_days=50).of("flatline")
    assert counts == TypeScore(events=3, events_found=1, findings=3, findings_true=2)
    assert counts.recall == pytest.approx(1 / 3)
    assert counts.precision == pytest.approx(2 / 3)
    assert counts.false_findings == 1


def test_false_findings_per_100_source_days() -> None:
    findings = [record("MN1", "so2", "flatline", h, h + 1) for h in range(0, 100, 10)]
    result = score(findings, [], source_days=500)
    assert result.of("flatline").findings == 10
    assert result.of("flatline").precision == 0.0
    assert result.of("flatline").recall is None
    assert result.false_per_100_source_days() == pytest.approx(2.0)
    assert result.false_per_100_source_days("flatline") == pytest.approx(2.0)
    assert result.false_per_100_source_days("step_drop") == 0.0
    assert len(result.false_records) == 10


def test_station_exceedances_are_counted_apart_not_scored() -> None:
    findings = [record("Dongsi", "pm25", "exceedance", 0, 23),
                record("Dongsi", "so2", "exceedance", 24, 47),
                record("MN1", "so2", "exceedance", 0, 2)]  # outlet: scored, false
    result = score(findings, [], source_days=10, stations={"Dongsi"})
    assert result.station_exceedances == 2
    assert result.of("exceedance").findings == 1
    assert result.of("exceedance").false_findings == 1


def test_stations_are_guessed_from_station_only_pollutants() -> None:
    findings = [record("Dongsi", "pm25", "exceedance", 0, 23),
                record("Dongsi", "so2", "exceedance", 24, 47),  # so2: a station still
                record("MN1", "so2", "exceedance", 0, 2)]
    result = score(findings, [], source_days=10)
    assert result.station_exceedances == 2
    assert result.of("exceedance").findings == 1


def test_unmatched_events_are_kept_for_inspection() -> None:
    truth = [record("A", "pm25", "gap_at_peak", 0, 5), record("A", "pm25", "gap_at_peak", 50, 55)]
    result = score([record("A", "pm25", "gap_at_peak", 1, 2)], truth, source_days=1)
    assert [e["start"] for e in result.unmatched_events] == [truth[1]["start"]]


def test_combine_adds_counts_and_source_days() -> None:
    truth = [record("A", "pm25", "flatline", 0, 10)]
    first = score([record("A", "pm25", "flatline", 0, 10)], truth, source_days=100)
    second = score([record("B", "pm25", "flatline", 0, 10)], truth, source_days=300)
    both = combine([first, second])
    assert both.source_days == 400
    assert both.of("flatline") == TypeScore(events=2, events_found=1, findings=2,
                                            findings_true=1)
    assert both.false_per_100_source_days() == pytest.approx(0.25)
    assert both.total == both.of("flatline")


def test_markdown_table_shows_both_systems_and_bolds_misses() -> None:
    truth = [record("A", "pm25", "flatline", 0, 10), record("A", "pm25", "flatline", 50, 60)]
    good = score([record("A", "pm25", "flatline", 0, 10), record("A", "pm25", "flatline", 50, 60)],
                 truth, source_days=10)
    poor = score([record("A", "pm25", "flatline", 0, 10)], truth, source_days=10)
    clean = {"Lantian": Score({}, 1000.0), "ADTK": score(
        [record("A", "pm25", "flatline", 0, 1)] * 20, [], source_days=1000)}
    text = markdown_table({"Lantian": good, "ADTK": poor}, clean)
    lines = text.splitlines()
    assert lines[0] == ("| type | events | recall Lantian | recall ADTK | precision Lantian | "
                        "precision ADTK | false/100 sd clean Lantian | "
                        "false/100 sd clean ADTK |")
    flatline = next(line for line in lines if line.startswith("| flatline"))
    assert flatline == "| flatline | 2 | 1.00 | **0.50** | 1.00 | 1.00 | 0.00 | **2.00** |"
    assert lines[-1].startswith("| **all** | 2 |")
