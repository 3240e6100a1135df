"""Which sources this analytics worker owns when several share the work (scale-out).

Ownership is a stable hash of a key: a city for stations (a city's AQI needs all its stations
in one worker), the MN for outlets. Worker 0 also runs the network-wide jobs (case deadlines,
notifications, forecasts, the reduction and falsification audits), which must run once.
Case creation is safe if two workers ever judge the same source (the ledger allows one open
case per source and problem), so a change of `shards` while running is harmless.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ShardPlan:
    shard: int = 0
    shards: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.shard < self.shards:
            raise ValueError(f"shard must be in 0…{self.shards - 1}, not {self.shard}")

    def owns(self, key: str) -> bool:
        # CRC-32, not hash(): the same on every worker and every run
        return self.shards == 1 or zlib.crc32(key.encode("utf-8")) % self.shards == self.shard

    @property
    def leader(self) -> bool:
        """Runs the jobs that must run once for the whole network."""
        return self.shard == 0

    def mine(self, keys: Iterable[str]) -> list[str]:
        return [key for key in keys if self.owns(key)]
