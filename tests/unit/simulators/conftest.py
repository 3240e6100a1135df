"""Fixtures for the CEMS simulator tests: a private outlet register, one stack per industry."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from config.outlets import Outlet

_STACKS = (
    ("POWER0000000000000000001", "power", 6.0, {"particulate": 10, "so2": 35, "nox": 50}),
    ("STEEL0000000000000000002", "steel", 16.0, {"particulate": 10, "so2": 35, "nox": 50}),
    ("CEMENT000000000000000003", "cement", 10.0, {"particulate": 10, "so2": 35, "nox": 100}),
    ("COKING000000000000000004", "coking", 8.0, {"particulate": 10, "so2": 30, "nox": 150}),
    ("BOILER000000000000000005", "boiler", 3.5, {"particulate": 5, "so2": 10, "nox": 30}),
)


def make_outlet(mn: str, industry: str, reference_o2: float | None, limits: dict[str, float],
                **extra: object) -> Outlet:
    return Outlet(mn=mn, name=f"{industry} stack", enterprise=f"{industry} works",
                  industry=industry, reference_o2=reference_o2, limits=limits,
                  password="654321", **extra)


@pytest.fixture(scope="session")
def make_cems_outlet() -> Callable[..., Outlet]:
    """Outlet(mn, industry, reference_o2, limits, **other Outlet fields)."""
    return make_outlet


@pytest.fixture(scope="session")
def cems_outlets() -> list[Outlet]:
    return [make_outlet(*stack) for stack in _STACKS]


@pytest.fixture(scope="session")
def power_outlet(cems_outlets: list[Outlet]) -> Outlet:
    return cems_outlets[0]
