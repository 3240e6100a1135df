"""The rectification case lifecycle (整改台账) as data: which action moves a case from which
status to which, so the rules are read in one place and every refusal says why.

open → assigned → rectifying → submitted → closed (verified, 销号); a rejected submission goes
back to rectifying; a closed case under look-back watch (回头看) is reopened when the problem
returns. Escalation (挂牌督办) changes the level, not the status.
"""

from __future__ import annotations

from dataclasses import dataclass

OPEN = "open"
ASSIGNED = "assigned"
RECTIFYING = "rectifying"
SUBMITTED = "submitted"
CLOSED = "closed"
STATUSES = (OPEN, ASSIGNED, RECTIFYING, SUBMITTED, CLOSED)
# Statuses in which the problem is still unresolved (the case holds its source's open key).
ACTIVE = frozenset({OPEN, ASSIGNED, RECTIFYING, SUBMITTED})


@dataclass(frozen=True, slots=True)
class Action:
    """One thing a person (or the system) can do to a case."""

    name: str
    sources: frozenset[str]
    target: str | None  # None: the status does not change
    meaning: str


ACTIONS: dict[str, Action] = {a.name: a for a in (
    Action("assign", frozenset({OPEN, ASSIGNED}), ASSIGNED,
           "name the responsible unit and person and the deadline"),
    Action("start", frozenset({ASSIGNED}), RECTIFYING,
           "the responsible unit accepts the case and starts rectifying"),
    Action("submit", frozenset({ASSIGNED, RECTIFYING}), SUBMITTED,
           "the responsible unit reports its measures and evidence for verification"),
    Action("verify", frozenset({SUBMITTED}), CLOSED,
           "an inspector verifies the rectification and closes the case (销号)"),
    Action("reject", frozenset({SUBMITTED}), RECTIFYING,
           "an inspector finds the rectification insufficient and sends it back"),
    Action("escalate", ACTIVE, None,
           "the case is overdue: raise its supervision level (挂牌督办)"),
    Action("reopen", frozenset({CLOSED}), OPEN,
           "the problem returned (死灰复燃) or the closing was wrong"),
    Action("comment", frozenset(STATUSES), None, "add a note or attachment"),
)}


class IllegalTransition(ValueError):
    """An action that the case's status does not allow; the message says what would."""


def next_status(current: str, action: str) -> str:
    """The status after `action` on a case in `current`; IllegalTransition if not allowed."""
    rule = ACTIONS.get(action)
    if rule is None:
        raise IllegalTransition(f"unknown action {action!r}; actions are "
                                f"{', '.join(ACTIONS)}")
    if current not in rule.sources:
        allowed = [a.name for a in ACTIONS.values() if current in a.sources]
        raise IllegalTransition(
            f"cannot {action} a case that is {current}: {action} needs a case that is "
            f"{' or '.join(sorted(rule.sources))}; a {current} case allows "
            f"{', '.join(allowed) or 'nothing'}")
    return rule.target or current
