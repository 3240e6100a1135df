"""CPU time and peak memory of processes by pid, from Linux /proc: the services, the collector
and the publishers of a benchmark are separate processes, and each is measured on its own."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mib(pid: int) -> float:
    """High-water resident set (VmHWM) of a live process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class ProcessMeter:
    """CPU used by named processes between start() and stop(), as cores (CPU s ÷ wall s).
    A process that has exited by stop() reports what its own rusage said (`add_spent`)."""

    pids: dict[str, int]
    _marks: dict[str, float] = field(default_factory=dict)
    _extra: dict[str, float] = field(default_factory=dict)

    def start(self) -> None:
        self._marks = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self._extra = {}

    def add_spent(self, name: str, cpu_s: float) -> None:
        self._extra[name] = self._extra.get(name, 0.0) + cpu_s

    def stop(self, wall_s: float) -> dict[str, float]:
        spent = {name: cpu_seconds(pid) - self._marks[name] for name, pid in self.pids.items()}
        spent.update(self._extra)
        return {name: round(s / wall_s, 2) for name, s in spent.items()}

    def peaks(self) -> dict[str, float]:
        return {name: round(peak_rss_mib(pid), 1) for name, pid in self.pids.items()}
