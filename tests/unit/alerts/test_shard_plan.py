"""Analytics workers split the sources: every key to exactly one worker, the same everywhere."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from alerts.shard_plan import ShardPlan
from config.settings import AnalyticsSettings

KEYS = [f"station-{i}" for i in range(2000)] + ["beijing", "天津", "020000B7700021E000214AA7"]


@pytest.mark.parametrize("shards", [1, 2, 3, 5])
def test_every_key_belongs_to_exactly_one_worker(shards: int) -> None:
    plans = [ShardPlan(k, shards) for k in range(shards)]
    owners = [[p.shard for p in plans if p.owns(key)] for key in KEYS]
    assert all(len(o) == 1 for o in owners)
    counts = [sum(1 for o in owners if o == [k]) for k in range(shards)]
    assert min(counts) > len(KEYS) / shards * 0.8  # evenly enough
    assert [p.leader for p in plans] == [True] + [False] * (shards - 1)


def test_ownership_is_stable_across_processes() -> None:
    # CRC-32 of the key, not Python's salted hash(): pinned, since changing it would move
    # every city and outlet to another worker in a running deployment
    cities = ["beijing", "tianjin", "shijiazhuang", "baoding"]
    assert ShardPlan(0, 2).mine(cities) == ["tianjin", "baoding"]
    assert ShardPlan(1, 2).mine(cities) == ["beijing", "shijiazhuang"]


def test_a_shard_outside_the_range_is_refused() -> None:
    with pytest.raises(ValueError, match="shard must be in 0…1"):
        ShardPlan(2, 2)
    with pytest.raises(ValidationError, match=r"analytics\.shard must be below"):
        AnalyticsSettings(shard=3, shards=3)
