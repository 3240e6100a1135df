"""Campaign statistics (清零行动): of the problems found since a campaign began, how many are
rectified, still in progress, overdue and recurred — in all and by a grouping — against the
campaign's target date ("421 found, 405 rectified, 16 in progress")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from alerts.case_lifecycle import ACTIVE, CLOSED
from alerts.case_models import Case

GroupBy = Literal["category", "district", "responsible_unit", "enterprise", "problem_type",
                  "source_kind"]


@dataclass
class Tally:
    found: int = 0
    rectified: int = 0
    in_progress: int = 0
    overdue: int = 0
    recurred: int = 0

    def add(self, case: Case, now: datetime) -> None:
        self.found += 1
        self.rectified += case.status == CLOSED
        active = case.status in ACTIVE
        self.in_progress += active
        self.overdue += active and case.deadline is not None and case.deadline < now
        self.recurred += case.recurrence_count > 0


@dataclass
class CampaignStats:
    total: Tally
    groups: dict[str, Tally] = field(default_factory=dict)
    target_date: datetime | None = None
    days_left: float | None = None


def group_key(case: Case, by: GroupBy) -> str:
    value = getattr(case, by)
    if by == "category" and not value:
        value = case.problem_type  # automatic findings are categorised by their type
    return value or "—"


def campaign_stats(cases: Sequence[Case], now: datetime, by: GroupBy,
                   target_date: datetime | None = None) -> CampaignStats:
    """`cases` are those in the campaign's scope (the caller selects by opening date and
    filters); groups are ordered by most in progress, then most found."""
    total = Tally()
    groups: dict[str, Tally] = {}
    for case in cases:
        total.add(case, now)
        groups.setdefault(group_key(case, by), Tally()).add(case, now)
    ordered = dict(sorted(groups.items(), key=lambda kv: (-kv[1].in_progress, -kv[1].found,
                                                          kv[0])))
    days_left = None if target_date is None else (target_date - now).total_seconds() / 86400
    return CampaignStats(total, ordered, target_date, days_left)
