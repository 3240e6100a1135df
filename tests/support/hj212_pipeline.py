"""The HJ 212 ingest pipeline as `lantian collect` runs it — MQTT collector and TCP gateway on
one write buffer — started against the test session's real broker and InfluxDB."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from config.outlets import Outlet
from config.settings import (
    CollectorSettings,
    GatewaySettings,
    InfluxSettings,
    MqttSettings,
    Settings,
)
from config.stations import Station
from ingest.dead_letters import DeadLetterStore
from ingest.hj212_gateway import Hj212Gateway
from ingest.hj212_intake import Hj212Intake
from ingest.influx_store import InfluxStore
from ingest.mqtt_collector import MqttCollector
from ingest.write_buffer import WriteBuffer
from lantian.local_services import LocalService, wait_until
from simulators.cems_model import CemsRun
from simulators.cems_packets import build_packets
from simulators.cems_transport import publish_mqtt


@dataclass
class Pipeline:
    settings: Settings
    collector: MqttCollector
    gateway: Hj212Gateway
    letters: DeadLetterStore

    @property
    def port(self) -> int:
        assert self.gateway.port is not None
        return self.gateway.port


@contextmanager
def running_pipeline(broker: LocalService, influx_settings: InfluxSettings,
                     letters: DeadLetterStore, outlets: Mapping[str, Outlet],
                     stations: Mapping[str, Station] | None = None) -> Iterator[Pipeline]:
    """Collector subscribed and gateway listening (free port) before the test sends anything;
    registration required; stopped (buffer flushed) afterwards."""
    settings = Settings(
        mqtt=MqttSettings(host=broker.host, port=broker.port),
        influx=influx_settings,
        collector=CollectorSettings(client_id=f"collector-{uuid.uuid4().hex[:8]}",
                                    require_registration=True),
        gateway=GatewaySettings(port=0),
    )
    stations = stations or {}
    buffer = WriteBuffer(settings, InfluxStore(influx_settings), letters)
    intake = Hj212Intake(settings, outlets, {s.mn: s for s in stations.values() if s.mn})
    collector = MqttCollector(settings, buffer.store, letters, stations, hj212=intake,
                              buffer=buffer)
    gateway = Hj212Gateway(settings.gateway, intake, buffer)
    collector.start()
    gateway.start()
    try:
        assert wait_until(lambda: collector.counters.subscribed, 10)
        yield Pipeline(settings, collector, gateway, letters)
    finally:
        gateway.stop()
        collector.stop()


def deliver_cems_minutes(run: CemsRun, broker: LocalService, influx_settings: InfluxSettings,
                         letters: DeadLetterStore, outlets: Mapping[str, Outlet]) -> Settings:
    """A simulated CEMS run's minute packets published over MQTT (QoS 1, all acknowledged)
    through a running pipeline until InfluxDB holds every one; the pipeline's settings."""
    packets = build_packets(run, commands=("minute",))
    with running_pipeline(broker, influx_settings, letters, outlets) as pipeline:
        summary = publish_mqtt(packets, broker.host, broker.port,
                               client_id=f"cems-{uuid.uuid4().hex[:8]}")
        assert summary.all_acked
        assert wait_until(
            lambda: pipeline.collector.counters.readings_written == len(packets), 60)
    return pipeline.settings
