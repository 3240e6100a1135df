"""The alert scheme of the configuration as the rules analytics evaluates."""

from __future__ import annotations

from analytics.alert_levels import AlertScheme, Clause, LevelRule
from config.emergency import SchemeConfig


def scheme_from_config(scheme: SchemeConfig) -> AlertScheme:
    levels = tuple(
        LevelRule(level.name, level.response, tuple(
            tuple(Clause(threshold=c.above if c.above is not None else float(c.at_least or 0),
                         min_days=c.days, inclusive=c.above is None)
                  for c in alternative)
            for alternative in level.any_of))
        for level in scheme.levels)
    return AlertScheme(scheme.name, levels)
