"""Simulated CEMS units over MQTT and over the TCP gateway, end to end on the real parts:
exact counts in InfluxDB, every requested reply sent, and an injected exceedance — and only it —
opening a case."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from support.hj212_pipeline import running_pipeline

from alerts.case_repository import CaseRepository
from alerts.emission_cycle import EmissionJudge
from config.outlets import load_outlets
from config.settings import Settings
from ingest.dead_letters import DeadLetterStore
from ingest.influx_store import InfluxStore
from lantian.local_services import LocalService, wait_until
from simulators.cems_injections import Injection, simulate_cems
from simulators.cems_packets import build_packets
from simulators.cems_transport import publish_mqtt, send_tcp_blocking

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 10, 0, 0, tzinfo=TZ)
HOURS = 4


def test_simulated_units_over_mqtt_and_tcp_land_exactly_and_an_exceedance_opens_a_case(
        mqtt_broker: LocalService, influx_settings, influx_store: InfluxStore,  # type: ignore[no-untyped-def]
        ledger_sessions) -> None:
    register = load_outlets(Settings().outlets_file)
    outlets = register.outlets
    target = outlets[0]
    injected = Injection(mn=target.mn, pollutant="so2", type="exceedance",
                         start=START + timedelta(hours=2), end=START + timedelta(hours=3))
    run = simulate_cems(outlets, START, HOURS, seed=7, injections=[injected])
    packets = build_packets(run, commands=("rtd", "minute", "hourly"))
    mqtt_mns = {o.mn for o in outlets[::2]}
    over_mqtt = [p for p in packets if p.mn in mqtt_mns]
    over_tcp = [p for p in packets if p.mn not in mqtt_mns]
    assert over_mqtt and over_tcp

    letters = DeadLetterStore(ledger_sessions)
    with running_pipeline(mqtt_broker, influx_settings, letters, register.by_mn()) as pipeline:
        collector = pipeline.collector
        mqtt_summary = publish_mqtt(over_mqtt, mqtt_broker.host, mqtt_broker.port,
                                    client_id=f"cems-{uuid.uuid4().hex[:8]}")
        tcp_summary = send_tcp_blocking(over_tcp, "127.0.0.1", pipeline.port, max_chunk=700,
                                        seed=3)
        assert mqtt_summary.sent == len(over_mqtt) and mqtt_summary.all_acked
        assert tcp_summary.acked == tcp_summary.ack_requested == len(over_tcp)
        assert wait_until(lambda: collector.counters.readings_written == len(packets), 30)
    assert collector.counters.dead_letters_stored == 0

    expected = Counter((p.mn, p.cn) for p in packets)
    kinds = {"2011": "hj212_rtd", "2051": "hj212_minute", "2061": "hj212_hourly"}
    for (mn, cn), count in expected.items():
        # Every stored record carries the O2 flag (N when sent without): count that field.
        assert influx_store.count(kinds[cn], "o2_flag", f"mn = '{mn}'") == count, (mn, cn)

    judge = EmissionJudge(pipeline.settings, influx_store, CaseRepository(ledger_sessions),
                          register, clock=lambda: datetime(2026, 11, 23, tzinfo=UTC))
    report = judge.run_once()
    assert report is not None and report.cases_opened == 1
    [case], _ = judge.cases.list_cases()
    assert case.source == target.mn and case.source_kind == "outlet"
    [finding] = judge.cases.get_case(case.id).findings  # type: ignore[union-attr]
    assert finding.pollutant == "so2"
    assert finding.start == injected.start.astimezone(UTC)
    assert finding.end == (injected.end - timedelta(hours=1)).astimezone(UTC)
    assert finding.evidence["hours"][0]["basis"] == "minute"
