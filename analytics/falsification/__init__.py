"""Falsification detectors (shared/domain.md §7): pure functions over AuditSeries → Findings."""
