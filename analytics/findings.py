"""The Finding: what a detector reports, in the shape of shared/formats.md §3."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

FINDING_TYPES = frozenset(
    {
        "exceedance", "impossible_value", "flatline", "low_variance", "bunching",
        "neighbor_divergence", "dilution", "copy_paste", "gap_at_peak", "flag_abuse", "step_drop",
        "reduction_shortfall",
    }
)


@dataclass(frozen=True)
class Finding:
    """One problem at one source for one pollutant over [start, end] (inclusive hour starts, UTC).

    `score` grows with confidence; `evidence` holds the numbers an inspector would cite
    (JSON-serialisable: numbers, strings, lists, dicts).
    """

    type: str
    source: str
    pollutant: str
    start: datetime
    end: datetime
    score: float
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in FINDING_TYPES:
            raise ValueError(f"unknown finding type {self.type!r}")
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("finding times must be timezone-aware")
        if self.end < self.start:
            raise ValueError("finding ends before it starts")

    def to_record(self, tz: tzinfo) -> dict[str, Any]:
        """The JSON-lines record of formats.md §3, times in the bureau's local offset."""
        return {
            "source": self.source,
            "pollutant": self.pollutant,
            "type": self.type,
            "start": self.start.astimezone(tz).isoformat(),
            "end": self.end.astimezone(tz).isoformat(),
            "score": round(float(self.score), 4),
            "evidence": self.evidence,
        }
