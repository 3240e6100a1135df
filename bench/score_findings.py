"""Score audit findings against the ground truth of a labelled bundle (bench/labelled_bundles.py).

Both sides are finding records of shared/formats.md §3 (``source``, ``pollutant``, ``type``,
``start``, ``end`` — inclusive local hour starts with offset). A finding matches an event when
the source and the type are equal, the pollutants are equal or either is ``all``, and the hour
spans overlap once each is widened by `tolerance_h` hours. An event is found when at least one
finding matches it (recall); a finding is true when it matches at least one event (precision);
a finding that matches none is false and is counted per 100 source-days (one source observed
for one day), the budget of the detector brief.

Station ``exceedance`` findings are not scored: the real Beijing data exceed GB 3095 for real
on many days, so they are neither injected nor false; they are counted apart.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ALL = "all"
# Pollutants only stations report: a source with one of these is a station.
STATION_ONLY_POLLUTANTS = frozenset({"pm25", "pm10", "no2", "o3", "co"})
UNSCORED_STATION_TYPES = frozenset({"exceedance"})
# The brief's targets: recall and precision per type, false findings per 100 source-days.
TARGET_RECALL = 0.9
TARGET_PRECISION = 0.9
TARGET_FALSE_PER_100_SOURCE_DAYS = 1.0


@dataclass(frozen=True)
class TypeScore:
    """Counts of one finding type: events (found), findings (true)."""

    events: int = 0
    events_found: int = 0
    findings: int = 0
    findings_true: int = 0

    @property
    def false_findings(self) -> int:
        return self.findings - self.findings_true

    @property
    def recall(self) -> float | None:
        """Share of events matched by ≥ 1 finding; None without events."""
        return self.events_found / self.events if self.events else None

    @property
    def precision(self) -> float | None:
        """Share of findings matching ≥ 1 event; None without findings."""
        return self.findings_true / self.findings if self.findings else None

    def __add__(self, other: TypeScore) -> TypeScore:
        return TypeScore(self.events + other.events, self.events_found + other.events_found,
                         self.findings + other.findings,
                         self.findings_true + other.findings_true)


@dataclass(frozen=True)
class Score:
    """Per-type counts over one or more bundles, the source-days they span, the tolerance used,
    and the station exceedances left unscored."""

    types: Mapping[str, TypeScore]
    source_days: float
    tolerance_h: int = 3
    station_exceedances: int = 0
    unmatched_events: tuple[dict[str, Any], ...] = field(default=(), repr=False)
    false_records: tuple[dict[str, Any], ...] = field(default=(), repr=False)

    @property
    def total(self) -> TypeScore:
        result = TypeScore()
        for item in self.types.values():
            result = result + item
        return result

    def of(self, type_: str) -> TypeScore:
        return self.types.get(type_, TypeScore())

    def false_per_100_source_days(self, type_: str | None = None) -> float:
        """False findings (all types, or `type_`) per 100 source-days."""
        counts = self.total if type_ is None else self.of(type_)
        return 100.0 * counts.false_findings / self.source_days if self.source_days else math.nan


def _hour(text: str) -> int:
    """Hours since the epoch of an ISO 8601 time with offset (the hour start holding it)."""
    when = datetime.fromisoformat(str(text))
    if when.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return math.floor(when.timestamp() / 3600)


def station_sources(findings: Iterable[Mapping[str, Any]],
                    truth: Iterable[Mapping[str, Any]]) -> set[str]:
    """Sources that report a station-only pollutant in the findings or the truth (a guess used
    when the caller does not say which sources are stations)."""
    return {str(r["source"]) for group in (findings, truth) for r in group
            if r["pollutant"] in STATION_ONLY_POLLUTANTS}


def read_station_ids(bundle: Path) -> set[str]:
    """The ids of sources.csv whose kind is station."""
    with (Path(bundle) / "sources.csv").open(encoding="utf-8", newline="") as handle:
        return {row["id"] for row in csv.DictReader(handle) if row["kind"] == "station"}


def _matches(finding: Mapping[str, Any], event: Mapping[str, Any], span: tuple[int, int],
             event_span: tuple[int, int], tolerance_h: int) -> bool:
    pollutant, event_pollutant = finding["pollutant"], event["pollutant"]
    if pollutant != event_pollutant and ALL not in (pollutant, event_pollutant):
        return False
    return (span[0] <= event_span[1] + tolerance_h
            and span[1] >= event_span[0] - tolerance_h)


def score(findings: Sequence[Mapping[str, Any]], truth: Sequence[Mapping[str, Any]], *,
          source_days: float, tolerance_h: int = 3,
          stations: Collection[str] | None = None) -> Score:
    """Recall, precision and false findings per type of `findings` against the `truth` events.

    `source_days` is the number of sources × the days the bundle spans. `stations` names the
    station sources whose exceedance findings are counted apart (default: guessed from the
    station-only pollutants seen).
    """
    station_ids = (set(stations) if stations is not None
                   else station_sources(findings, truth))
    events_by_key: dict[tuple[str, str], list[tuple[int, Mapping[str, Any], tuple[int, int]]]]
    events_by_key = defaultdict(list)
    for index, event in enumerate(truth):
        span = (_hour(event["start"]), _hour(event["end"]))
        events_by_key[(str(event["source"]), str(event["type"]))].append((index, event, span))
    found = [False] * len(truth)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    false_records: list[dict[str, Any]] = []
    station_exceedances = 0
    for item in findings:
        type_ = str(item["type"])
        source = str(item["source"])
        if type_ in UNSCORED_STATION_TYPES and source in station_ids:
            station_exceedances += 1
            continue
        span = (_hour(item["start"]), _hour(item["end"]))
        hit = False
        for index, event, event_span in events_by_key.get((source, type_), ()):
            if _matches(item, event, span, event_span, tolerance_h):
                found[index] = True
                hit = True
        counts[type_]["findings"] += 1
        counts[type_]["findings_true"] += hit
        if not hit:
            false_records.append(dict(item))
    unmatched = []
    for index, event in enumerate(truth):
        counts[str(event["type"])]["events"] += 1
        counts[str(event["type"])]["events_found"] += found[index]
        if not found[index]:
            unmatched.append(dict(event))
    types = {t: TypeScore(c["events"], c["events_found"], c["findings"], c["findings_true"])
             for t, c in sorted(counts.items())}
    return Score(types, float(source_days), tolerance_h, station_exceedances,
                 tuple(unmatched), tuple(false_records))


def combine(scores: Iterable[Score]) -> Score:
    """One score over several bundles: counts and source-days added."""
    types: dict[str, TypeScore] = defaultdict(TypeScore)
    source_days = 0.0
    exceedances = 0
    unmatched: list[dict[str, Any]] = []
    false_records: list[dict[str, Any]] = []
    tolerance = 3
    for item in scores:
        for type_, counts in item.types.items():
            types[type_] = types[type_] + counts
        source_days += item.source_days
        exceedances += item.station_exceedances
        unmatched += item.unmatched_events
        false_records += item.false_records
        tolerance = item.tolerance_h
    return Score(dict(sorted(types.items())), source_days, tolerance, exceedances,
                 tuple(unmatched), tuple(false_records))


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _mark(value: float | None, target: float, higher_is_better: bool = True) -> str:
    """The number, bold when it misses the target (so misses stand out in the table)."""
    if value is None or math.isnan(value):
        return "—"
    text = f"{value:.2f}"
    ok = value >= target if higher_is_better else value <= target
    return text if ok else f"**{text}**"


def markdown_table(scores: Mapping[str, Score], clean: Mapping[str, Score] | None = None,
                   types: Sequence[str] | None = None) -> str:
    """A markdown table per type: events, then recall and precision of each named score (on the
    labelled bundles) and false findings per 100 source-days (on `clean` bundles when given).

    Values that miss the brief's targets (recall/precision ≥ 0.9, ≤ 1 false per 100
    source-days) are bold.
    """
    names = list(scores)
    if types is None:
        seen = {t for s in scores.values() for t in s.types}
        seen |= {t for s in (clean or {}).values() for t in s.types}
        types = sorted(seen)
    header = ["type", "events"]
    header += [f"recall {n}" for n in names] + [f"precision {n}" for n in names]
    if clean:
        header += [f"false/100 sd clean {n}" for n in clean]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    first = scores[names[0]] if names else None
    for type_ in [*types, "all"]:
        def pick(s: Score, t: str = type_) -> TypeScore:
            return s.total if t == "all" else s.of(t)
        events = pick(first).events if first is not None else 0
        row = [f"**{type_}**" if type_ == "all" else type_, str(events)]
        row += [_mark(pick(scores[n]).recall, TARGET_RECALL) for n in names]
        row += [_mark(pick(scores[n]).precision, TARGET_PRECISION) for n in names]
        if clean:
            row += [_mark(c.false_per_100_source_days(None if type_ == "all" else type_),
                          TARGET_FALSE_PER_100_SOURCE_DAYS, higher_is_better=False)
                    for c in clean.values()]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def describe(score_: Score) -> str:
    """One line: totals, false findings per 100 source-days, station exceedances left aside."""
    total = score_.total
    return (f"{total.events_found}/{total.events} events found (recall {_ratio(total.recall)}), "
            f"{total.findings_true}/{total.findings} findings true (precision "
            f"{_ratio(total.precision)}), {score_.false_per_100_source_days():.2f} false per "
            f"100 source-days over {score_.source_days:,.0f} source-days; "
            f"{score_.station_exceedances} station exceedance finding(s) not scored")
