"""The analytics loop's liveness file: when it last finished a cycle without error, and the
last error. Written after every cycle (atomically: a health check never reads half a file),
read by `lantian heartbeat --service analytics` in the same container.

A file, not the ledger: the check must tell a stuck loop from a working one even when the
ledger is what is failing, and it costs no connection per health check.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class AnalyticsBeat:
    """Unix seconds (wall clock) of the last cycle finished without error (None: none yet)
    and of the last failure with its message; `shard` as "i/n"."""

    shard: str
    last_ok_s: float | None = None
    last_error: str | None = None
    last_error_s: float | None = None


def write_beat(path: Path, beat: AnalyticsBeat) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(asdict(beat)), encoding="utf-8")
    os.replace(partial, path)


def read_beat(path: Path) -> AnalyticsBeat | None:
    """The beat in `path`; None when there is none yet. A malformed file is a ValueError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return AnalyticsBeat(**json.loads(text))
    except (TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not an analytics heartbeat: {exc}") from None
