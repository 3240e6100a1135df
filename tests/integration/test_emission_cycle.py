"""Judging emissions against real InfluxDB and both ledger backends: HJ 212 packets through the
intake, hourly values at reference O2, exceedance cases, flags, the 45-minute rule, and the
check of a unit's own converted values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from support.hj212_vectors import V2

from alerts.case_repository import CaseRepository
from alerts.emission_cycle import OUTLET_HOUR_MEASUREMENT, EmissionJudge
from config.outlets import Outlet, OutletRegister
from config.settings import InfluxSettings, Settings
from ingest.hj212_codec import Hj212Codec, make_packet
from ingest.hj212_intake import Hj212Intake
from ingest.influx_store import InfluxStore

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 15, 0, 0, tzinfo=TZ)
MN = "020000B7700021E000214AA7"
OUTLET = Outlet(mn=MN, name="1号机组", enterprise="示范电厂", industry="power", reference_o2=6,
                limits={"particulate": 10, "so2": 35, "nox": 50})
CODEC = Hj212Codec()


def minute(at: datetime, so2: float, flag: str = "N", o2: float = 9.2) -> bytes:
    return CODEC.encode(make_packet(
        st="31", cn="2051", pw="123456", mn=MN, flag=4,
        cp=[{"DataTime": at.strftime("%Y%m%d%H%M%S")},
            {"a21026-Avg": f"{so2:.1f}", "a21026-Flag": flag},
            {"a19001-Avg": f"{o2:.1f}", "a19001-Flag": flag}]))


@pytest.fixture
def judge(influx_settings: InfluxSettings, influx_store: InfluxStore,
          ledger_sessions) -> EmissionJudge:  # type: ignore[no-untyped-def]
    settings = Settings(influx=influx_settings)
    return EmissionJudge(settings, influx_store, CaseRepository(ledger_sessions),
                         OutletRegister(outlets=[OUTLET]),
                         clock=lambda: datetime(2026, 11, 23, tzinfo=UTC))


def ingest(packets: list[bytes], influx_store: InfluxStore) -> None:
    intake = Hj212Intake(Settings(), {MN: OUTLET}, {})
    lines = [line for p in packets for line in intake.frame(p, "test").lines]
    assert len(lines) == len(packets)
    influx_store.write_lines(lines)


def test_hourly_converted_means_open_one_case_for_the_exceeding_hours(
        judge: EmissionJudge, influx_store: InfluxStore) -> None:
    packets = []
    for m in range(60):  # 00:00 normal: 20 mg/m³ at 9.2 % O2 → 25.4 at 6 %
        packets.append(minute(T0 + timedelta(minutes=m), 20.0))
    for m in range(60):  # 01:00 exceeding: 30 → 38.1 > 35
        packets.append(minute(T0 + timedelta(hours=1, minutes=m), 30.0))
    for m in range(60):  # 02:00 calibration: high values flagged C do not count
        packets.append(minute(T0 + timedelta(hours=2, minutes=m), 300.0, flag="C"))
    for m in range(44):  # 03:00 only 44 valid minutes: no valid hour
        packets.append(minute(T0 + timedelta(hours=3, minutes=m), 30.0))
    ingest(packets, influx_store)

    report = judge.run_once()
    assert report is not None and report.cases_opened == 1 and report.findings == 1
    [case], _ = judge.cases.list_cases()
    assert case.source == MN and case.source_kind == "outlet"
    assert case.title == "示范电厂 1号机组: hourly so2 above the emission limit"
    [finding] = judge.cases.get_case(case.id).findings  # type: ignore[union-attr]
    assert finding.start == (T0 + timedelta(hours=1)).astimezone(UTC)
    assert finding.end == finding.start
    assert finding.evidence["limit_mgm3"] == 35
    [hour] = finding.evidence["hours"]
    assert hour["converted_mgm3"] == pytest.approx(30.0 * 15 / 11.8, abs=0.05)
    assert hour["basis"] == "minute" and hour["valid_values"] == 60

    start_s = int(T0.timestamp())
    rows = influx_store.read_series(OUTLET_HOUR_MEASUREMENT, "mn", MN,
                                    ["so2", "so2_zs", "so2_limit"], start_s, start_s + 86400)
    assert rows["time_s"].tolist() == [start_s, start_s + 3600]  # 02:00 and 03:00 not valid
    assert rows["so2_zs"].round(2).tolist() == [round(20 * 15 / 11.8, 2),
                                                 round(30 * 15 / 11.8, 2)]
    assert rows["so2_limit"].tolist() == [35.0, 35.0]
    # Nothing new: the next cycle does no work.
    assert judge.run_once() is None


def test_unit_reported_hourly_values_are_used_and_their_conversion_checked(
        judge: EmissionJudge, influx_store: InfluxStore) -> None:
    # domain.md §10.6 V2 (correct ZsAvg) and the next hour with a ZsAvg converted to 9 % O2.
    wrong = CODEC.encode(make_packet(
        st="31", cn="2061", pw="123456", mn=MN, flag=4,
        cp=[{"DataTime": "20260315150000"},
            {"a21026-Avg": "18.5", "a21026-ZsAvg": "18.8", "a21026-Flag": "N"},
            {"a19001-Avg": "9.2", "a19001-Flag": "N"}]))
    ingest([V2, wrong], influx_store)
    report = judge.run_once()
    assert report is not None and report.findings == 0
    at = int(datetime(2026, 3, 15, 14, tzinfo=TZ).timestamp())
    rows = influx_store.query_frame(
        f"SELECT so2_zs, so2_basis, so2_zs_reported, so2_zs_mismatch, nox_zs_mismatch "
        f"FROM {OUTLET_HOUR_MEASUREMENT} WHERE time >= {at}s")
    assert rows["so2_basis"].tolist() == ["reported", "reported"]
    assert rows["so2_zs"].round(1).tolist() == [23.5, 23.5]
    assert rows["so2_zs_reported"].tolist() == [23.5, 18.8]
    assert rows["so2_zs_mismatch"].tolist() == [False, True]
    assert rows["nox_zs_mismatch"].iloc[0] == False  # noqa: E712 (a stored boolean)
