"""MQTT broker accounts and their Mosquitto ACL, derived from the station and outlet registers.

Every station and every outlet's data acquisition unit gets an account named by its own id
(station id, MN) that may write only its own topic (shared/formats.md §1), so a unit cannot
publish as another; each Lantian service gets an account with just the topics it uses.

The ACL lists each user's topics explicitly instead of `pattern write …/station/%u/reading`:
a pattern applies to every account that authenticates, services included (the collector could
then publish as a "station" named `lantian-collector`), it cannot map a station to its HJ 212
unit's MN, and an explicit file is what an auditor can read line by line. The file is
regenerated from the registers, so its length costs nothing to maintain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from config.outlets import OutletRegister
from config.stations import StationRegister

Access = Literal["read", "write", "readwrite"]
AccountKind = Literal["station", "outlet", "service"]

COLLECTOR = "lantian-collector"
ANALYTICS = "lantian-analytics"
FORECAST = "lantian-forecast"
HEALTH = "lantian-health"
SIMULATOR = "lantian-simulator"
ALERTS_READER = "lantian-alerts-reader"

# Levels without MQTT wildcards, whitespace or a leading `$` (reserved for the broker's $SYS).
_TOPIC_ROOT = re.compile(r"^[^$+#/\s][^+#/\s]*(/[^+#/\s]+)*$")


@dataclass(frozen=True)
class TopicGrant:
    """One ACL line: `read` covers subscribing and receiving, `write` publishing."""

    access: Access
    topic: str


@dataclass(frozen=True)
class BrokerAccount:
    """A broker user: its name (the device id for devices), what it is, and its topics."""

    username: str
    kind: AccountKind
    purpose: str
    grants: tuple[TopicGrant, ...]


def station_topic(topic_root: str, station_id: str) -> str:
    return f"{topic_root}/station/{station_id}/reading"


def outlet_topic(topic_root: str, mn: str) -> str:
    return f"{topic_root}/outlet/{mn}/hj212"


def service_accounts(topic_root: str) -> list[BrokerAccount]:
    """Lantian's own clients, each limited to the topics its code uses."""
    root = topic_root
    incoming = (station_topic(root, "+"), outlet_topic(root, "+"))

    def grants(access: Access, *topics: str) -> tuple[TopicGrant, ...]:
        return tuple(TopicGrant(access, topic) for topic in topics)

    return [
        BrokerAccount(COLLECTOR, "service",
                      "collector: station readings, HJ 212 packets, forecasts; broker counters",
                      grants("read", *incoming, f"{root}/forecast/+", "$SYS/broker/#")),
        BrokerAccount(ANALYTICS, "service",
                      "analytics service: case alerts and retained emergency levels",
                      grants("write", f"{root}/alerts/+", f"{root}/emergency/+")),
        BrokerAccount(FORECAST, "service", "forecast office: official AQI forecasts",
                      grants("write", f"{root}/forecast/+")),
        BrokerAccount(HEALTH, "service", "API health check: connects, touches no topic", ()),
        BrokerAccount(ALERTS_READER, "service",
                      "bureau systems that follow alerts and emergency levels",
                      grants("read", f"{root}/alerts/+", f"{root}/emergency/+")),
        BrokerAccount(SIMULATOR, "service",
                      "demo simulators only: publish as any station or outlet",
                      grants("write", *incoming)),
    ]


def broker_accounts(stations: StationRegister, outlets: OutletRegister, topic_root: str
                    ) -> list[BrokerAccount]:
    """Services, then stations and outlets in register order.

    A station with an HJ 212 unit (`mn`) may also write that MN's outlet topic. ValueError
    when the topic root is not a plain topic, when two accounts would share a username, or
    when an MN belongs to both a station and an outlet (two devices on one topic).
    """
    if not _TOPIC_ROOT.match(topic_root):
        raise ValueError(f"mqtt topic_root {topic_root!r} must be topic levels without "
                         "wildcards, spaces, empty levels or a leading '$'")
    accounts = service_accounts(topic_root)
    for station in stations.stations:
        grants = [TopicGrant("write", station_topic(topic_root, station.id))]
        if station.mn:
            grants.append(TopicGrant("write", outlet_topic(topic_root, station.mn)))
        accounts.append(BrokerAccount(station.id, "station", f"station {station.name}",
                                      tuple(grants)))
    for outlet in outlets.outlets:
        accounts.append(BrokerAccount(
            outlet.mn, "outlet", f"outlet {outlet.name}, {outlet.enterprise}",
            (TopicGrant("write", outlet_topic(topic_root, outlet.mn)),)))
    _check_unique(accounts, stations, outlets)
    return accounts


def _check_unique(accounts: list[BrokerAccount], stations: StationRegister,
                  outlets: OutletRegister) -> None:
    seen: dict[str, BrokerAccount] = {}
    for account in accounts:
        other = seen.setdefault(account.username, account)
        if other is not account:
            raise ValueError(f"broker username {account.username!r} is taken twice: "
                             f"{other.purpose} and {account.purpose}; rename one")
    shared = sorted(set(stations.by_mn()) & set(outlets.by_mn()))
    if shared:
        raise ValueError(f"MN {shared[0]} is both station {stations.by_mn()[shared[0]].id}'s "
                         "unit and an outlet; one MN, one device")


def render_acl(accounts: list[BrokerAccount]) -> str:
    """The Mosquitto `acl_file` text: a `user` block per account with its `topic` lines.

    Nothing precedes the first `user` line, so anonymous clients (if ever allowed) get nothing.
    """
    lines = ["# Mosquitto ACL written by `lantian broker-auth` from the station and outlet",
             "# registers; regenerate it instead of editing. Topics not listed are denied."]
    for account in accounts:
        lines += ["", f"# {_one_line(account.purpose)}",
                  f"user {account.username}"]
        lines += [f"topic {grant.access} {grant.topic}" for grant in account.grants]
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())
