"""Broker accounts from the registers: each unit writes only its own topic, services only
theirs, and the ACL text says exactly that."""

from __future__ import annotations

import pytest
from paho.mqtt.client import topic_matches_sub

from config.broker_accounts import (
    ANALYTICS,
    COLLECTOR,
    HEALTH,
    SIMULATOR,
    BrokerAccount,
    broker_accounts,
    render_acl,
)
from config.outlets import Outlet, OutletRegister
from config.stations import Station, StationRegister

ROOT = "lantian/v1"


def station(station_id: str, mn: str | None = None) -> Station:
    return Station(id=station_id, name=f"{station_id} 站", city="beijing", lat=39.9, lon=116.4,
                   mn=mn)


def outlet(mn: str) -> Outlet:
    return Outlet(mn=mn, name="1号烟囱", enterprise="热电厂", industry="power")


STATIONS = StationRegister(stations=[station("Dongsi"), station("Tiantan"),
                                     station("Micro-7", mn="STATIONMN0001")])
OUTLETS = OutletRegister(outlets=[outlet("020000B7700021E000214AA7"), outlet("12345678")])


def accounts_by_name(topic_root: str = ROOT) -> dict[str, BrokerAccount]:
    return {a.username: a for a in broker_accounts(STATIONS, OUTLETS, topic_root)}


def test_each_unit_writes_only_its_own_topics() -> None:
    accounts = accounts_by_name()
    grants = {name: [(g.access, g.topic) for g in a.grants] for name, a in accounts.items()}
    assert grants["Dongsi"] == [("write", f"{ROOT}/station/Dongsi/reading")]
    assert grants["Micro-7"] == [("write", f"{ROOT}/station/Micro-7/reading"),
                                 ("write", f"{ROOT}/outlet/STATIONMN0001/hj212")]
    assert grants["12345678"] == [("write", f"{ROOT}/outlet/12345678/hj212")]
    assert [a.kind for a in accounts.values()].count("station") == 3
    assert [a.kind for a in accounts.values()].count("outlet") == 2


def test_no_unit_grant_reaches_another_units_topic() -> None:
    """Mosquitto matches ACL topics like subscriptions; no device grant may match any topic
    of another device, and no device may read at all."""
    devices = [a for a in accounts_by_name().values() if a.kind != "service"]
    for device in devices:
        assert all(g.access == "write" for g in device.grants)
        for other in devices:
            if other is device:
                continue
            for theirs in other.grants:
                assert not any(topic_matches_sub(mine.topic, theirs.topic)
                               for mine in device.grants), (device.username, theirs.topic)


def test_services_get_only_their_topics() -> None:
    accounts = accounts_by_name("bureau/air")
    assert accounts[HEALTH].grants == ()
    assert {g.access for g in accounts[COLLECTOR].grants} == {"read"}
    assert {(g.access, g.topic) for g in accounts[ANALYTICS].grants} == {
        ("write", "bureau/air/alerts/+"), ("write", "bureau/air/emergency/+")}
    writes = [g.topic for g in accounts[SIMULATOR].grants if g.access == "write"]
    assert writes == ["bureau/air/station/+/reading", "bureau/air/outlet/+/hj212"]
    for station_id in ("Dongsi", "Tiantan"):
        assert any(topic_matches_sub(t, f"bureau/air/station/{station_id}/reading")
                   for t in writes)


def test_acl_lists_every_user_with_its_topics_and_nothing_for_anonymous() -> None:
    accounts = broker_accounts(STATIONS, OUTLETS, ROOT)
    text = render_acl(accounts)
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("user "):
            current = blocks.setdefault(line.removeprefix("user "), [])
        elif line.startswith("topic "):
            assert current is not None, "a topic line before any user applies to anonymous"
            current.append(line)
        else:
            assert line == "" or line.startswith("#"), line
    assert list(blocks) == [a.username for a in accounts]
    for account in accounts:
        assert blocks[account.username] == [f"topic {g.access} {g.topic}"
                                            for g in account.grants]
    assert "# station Dongsi 站" in text


@pytest.mark.parametrize("stations, outlets, message", [
    (StationRegister(stations=[station(COLLECTOR)]), OutletRegister(), "taken twice"),
    (StationRegister(stations=[station("12345678")]),
     OutletRegister(outlets=[outlet("12345678")]), "taken twice"),
    (StationRegister(stations=[station("Micro-7", mn="12345678")]),
     OutletRegister(outlets=[outlet("12345678")]), "one MN, one device"),
])
def test_clashing_names_are_refused(stations: StationRegister, outlets: OutletRegister,
                                    message: str) -> None:
    with pytest.raises(ValueError, match=message):
        broker_accounts(stations, outlets, ROOT)


@pytest.mark.parametrize("root", ["", "lantian/+", "lantian/#", "/lantian", "lantian/",
                                  "lantian//v1", "$SYS", "lantian v1"])
def test_topic_root_must_be_plain_levels(root: str) -> None:
    with pytest.raises(ValueError, match="topic_root"):
        broker_accounts(STATIONS, OUTLETS, root)
