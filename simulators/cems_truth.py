"""Injections in and out: read them from records or a shortcut, write them as ground truth.

Ground truth uses the finding shape of shared/formats.md §3 (one JSON line per finding,
`start`/`end` inclusive local hour starts) so that an audit's output can be scored against it
line by line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import yaml

from analytics.findings import Finding
from simulators.cems_injections import LEGITIMATE_TYPES, Injection
from simulators.cems_profiles import POLLUTANTS

TRUTH_SCORE = 1.0  # injected, hence certain


def _parse_time(text: object, tz: tzinfo, what: str) -> datetime:
    if isinstance(text, datetime):
        parsed = text
    else:
        try:
            parsed = datetime.fromisoformat(str(text))
        except ValueError:
            raise ValueError(f"{what} {text!r} is not an ISO 8601 date/time") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


def injection_from_record(record: Mapping[str, Any], tz: tzinfo) -> Injection:
    """An Injection from a mapping with mn, pollutant, type, start and end or hours, params.

    Times are ISO 8601; a time without offset is local `tz`. ValueError says what is wrong.
    """
    missing = {"mn", "pollutant", "type", "start"} - set(record)
    if missing or ("end" not in record and "hours" not in record):
        raise ValueError(f"injection {dict(record)} needs mn, pollutant, type, start and "
                         "end or hours")
    start = _parse_time(record["start"], tz, "start")
    end = (_parse_time(record["end"], tz, "end") if "end" in record
           else start + timedelta(hours=float(record["hours"])))
    return Injection(mn=str(record["mn"]), pollutant=str(record["pollutant"]),
                     type=str(record["type"]), start=start, end=end,
                     params=dict(record.get("params") or {}))


def injections_from_records(records: Iterable[Mapping[str, Any]], tz: tzinfo) -> list[Injection]:
    """Every record as an Injection (a YAML/JSON list, or a mapping's ``injections`` list)."""
    return [injection_from_record(r, tz) for r in records]


def load_injections(path: Path, tz: tzinfo) -> list[Injection]:
    """Injections from a JSON or YAML file: a list of records, or ``{injections: [...]}``.

    ValueError names the file and what is wrong with it.
    """
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except FileNotFoundError:
        raise ValueError(f"injection file {path} not found") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"injection file {path} is not JSON/YAML: {exc}") from None
    records = loaded.get("injections", []) if isinstance(loaded, dict) else loaded
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValueError(f"injection file {path} must hold a list of mappings")
    try:
        return injections_from_records(records, tz)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"injection file {path}: {exc}") from None


def parse_exceed(text: str, tz: tzinfo) -> Injection:
    """The CLI shortcut ``MN:pollutant:start:hours`` as an exceedance injection.

    `start` may itself contain colons (``2026-03-15T14:00``); naive means local `tz`.
    """
    parts = text.split(":")
    if len(parts) < 4:
        raise ValueError(f"{text!r} is not MN:pollutant:start:hours")
    mn, pollutant, hours = parts[0], parts[1], parts[-1]
    try:
        span = float(hours)
    except ValueError:
        raise ValueError(f"{text!r}: hours {hours!r} is not a number") from None
    start = _parse_time(":".join(parts[2:-1]), tz, "start")
    return Injection(mn=mn, pollutant=pollutant, type="exceedance", start=start,
                     end=start + timedelta(hours=span))


def _hour_start(when: datetime, tz: tzinfo) -> datetime:
    return when.astimezone(tz).replace(minute=0, second=0, microsecond=0)


def truth_records(injections: Sequence[Injection], tz: tzinfo) -> list[dict[str, Any]]:
    """One finding record per injected pollutant, times in `tz` (ISO 8601 with offset).

    `start`/`end` are the first and last local hour starts the injection touches; dilution
    and an ``all`` copy_paste give one record per pollutant (particulate, so2, nox), since
    they change every pollutant. `evidence` is ``{"injected": <parameters applied>}``.
    """
    records = []
    for injection in injections:
        if injection.type in LEGITIMATE_TYPES:
            continue
        everything = injection.type == "dilution" or injection.pollutant == "all"
        for pollutant in (POLLUTANTS if everything else (injection.pollutant,)):
            finding = Finding(
                type=injection.type, source=injection.mn, pollutant=pollutant,
                start=_hour_start(injection.start, tz),
                end=_hour_start(injection.end - timedelta(microseconds=1), tz),
                score=TRUTH_SCORE, evidence={"injected": injection.resolved_params()},
            )
            records.append(finding.to_record(tz))
    return records


def write_ground_truth(injections: Sequence[Injection], path: Path, tz: tzinfo) -> int:
    """Write truth_records as JSON lines (UTF-8) to `path`; returns the number of lines."""
    records = truth_records(injections, tz)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(records)
