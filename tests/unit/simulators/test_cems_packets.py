"""HJ 212 uploads from simulated stacks: valid packets, consistent fields, local period starts."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import numpy as np
import pytest

from config.outlets import Outlet
from ingest.hj212_codec import Hj212Codec, Hj212Packet
from ingest.hj212_codes import FIELD_CODES
from simulators.cems_injections import Injection, simulate_cems
from simulators.cems_model import SHANGHAI, CemsRun, generate_cems
from simulators.cems_packets import CemsPacket, build_packets

START = datetime(2026, 1, 10, tzinfo=SHANGHAI)
MN = "POWER0000000000000000001"
CODEC = Hj212Codec()


@pytest.fixture(scope="module")
def run(cems_outlets: list[Outlet]) -> CemsRun:
    injections = [
        Injection(MN, "nox", "gap_at_peak", START + timedelta(hours=30),
                  START + timedelta(hours=32)),
        Injection(cems_outlets[1].mn, "so2", "impossible_value", START + timedelta(hours=5),
                  START + timedelta(hours=5, minutes=7)),
        Injection(cems_outlets[2].mn, "so2", "dilution", START + timedelta(hours=20),
                  START + timedelta(hours=23)),
    ]
    return simulate_cems(cems_outlets, START, 48, seed=2, injections=injections)


@pytest.fixture(scope="module")
def packets(run: CemsRun) -> list[CemsPacket]:
    return build_packets(run, commands=("rtd", "minute", "hourly", "daily"))


@pytest.fixture(scope="module")
def decoded(packets: list[CemsPacket]) -> list[Hj212Packet]:
    return [CODEC.decode(p.raw) for p in packets]


def test_every_packet_decodes_and_fits(packets: list[CemsPacket],
                                       decoded: list[Hj212Packet]) -> None:
    assert packets
    for packet, parsed in zip(packets, decoded, strict=True):
        assert packet.raw.startswith(b"##") and packet.raw.endswith(b"\r\n")
        assert int(packet.raw[2:6]) <= 1024
        assert (parsed.st, parsed.cn, parsed.mn, parsed.qn) == ("31", packet.cn, packet.mn,
                                                                packet.qn)
        assert parsed.pw == "654321"
        assert parsed.flag == 5 and parsed.wants_reply and packet.wants_ack


def test_commands_counts_and_order(run: CemsRun, packets: list[CemsPacket]) -> None:
    counts = Counter((p.mn, p.cn) for p in packets)
    for mn in run.series:
        assert counts[(mn, "2011")] == 48 * 60  # rtd_interval_s = 60
        assert counts[(mn, "2051")] == 48 * 60
        assert counts[(mn, "2061")] == 48
        assert counts[(mn, "2031")] == 2
    sent = [p.sent_at for p in packets]
    assert sent == sorted(sent)
    assert len({(p.mn, p.qn) for p in packets}) == len(packets)  # QN unique per MN
    only_hourly = build_packets(run, commands=["hourly"])
    assert {p.cn for p in only_hourly} == {"2061"}
    with pytest.raises(ValueError, match="unknown commands"):
        build_packets(run, commands=["weekly"])


def test_data_time_is_the_local_period_start(packets: list[CemsPacket],
                                             decoded: list[Hj212Packet]) -> None:
    length = {"2051": timedelta(minutes=1), "2061": timedelta(hours=1),
              "2031": timedelta(days=1), "2011": timedelta(0)}
    for packet, parsed in zip(packets, decoded, strict=True):
        stamp = datetime.strptime(parsed.cp_dict()["DataTime"], "%Y%m%d%H%M%S")
        assert stamp.replace(tzinfo=SHANGHAI) == packet.data_time
        assert packet.sent_at == packet.data_time + length[packet.cn]
        sent_local = packet.sent_at.astimezone(SHANGHAI).strftime("%Y%m%d%H%M%S")
        assert packet.qn[:14] == sent_local
    hourly = [p for p in packets if p.cn == "2061" and p.mn == MN]
    assert hourly[0].data_time.strftime("%Y%m%d%H%M%S") == "20260110000000"
    assert all(p.data_time.minute == 0 for p in hourly)
    daily = [p for p in packets if p.cn == "2031" and p.mn == MN]
    assert [p.data_time.hour for p in daily] == [0, 0]


def _items(parsed: Hj212Packet) -> dict[str, str]:
    return parsed.cp_dict()


def test_zs_avg_follows_the_conversion_formula(run: CemsRun, packets: list[CemsPacket],
                                               decoded: list[Hj212Packet]) -> None:
    checked = 0
    for packet, parsed in zip(packets, decoded, strict=True):
        if packet.cn not in ("2051", "2061"):
            continue
        cp = _items(parsed)
        ref = run.series[packet.mn].outlet.reference_o2
        for p in ("particulate", "so2", "nox"):
            code = FIELD_CODES[p]
            if f"{code}-ZsAvg" not in cp:
                continue
            avg, o2 = float(cp[f"{code}-Avg"]), float(cp["a19001-Avg"])
            decimals = len(cp[f"{code}-Avg"].split(".")[1])
            expected = avg * (21 - ref) / (21 - o2)
            assert abs(float(cp[f"{code}-ZsAvg"]) - expected) <= 0.5 * 10**-decimals + 1e-9
            checked += 1
    assert checked > 10_000


def test_cou_and_min_avg_max_are_consistent(decoded: list[Hj212Packet]) -> None:
    seconds = {"2051": 60, "2061": 3600, "2031": 86400}
    for parsed in decoded:
        if parsed.cn not in seconds:
            continue
        cp = _items(parsed)
        if "a00000-Cou" in cp:
            volume = float(cp["a00000-Cou"])
            assert volume == pytest.approx(float(cp["a00000-Avg"]) * seconds[parsed.cn],
                                           abs=0.06)
            for code in ("a34013", "a21026", "a21002"):
                if f"{code}-Cou" in cp:
                    assert float(cp[f"{code}-Cou"]) == pytest.approx(
                        float(cp[f"{code}-Avg"]) * volume * 1e-6, abs=6e-5)
        for key, value in cp.items():
            if key.endswith("-Avg"):
                code = key[:-4]
                assert float(cp[f"{code}-Min"]) <= float(value) <= float(cp[f"{code}-Max"])


def test_missing_values_are_left_out(packets: list[CemsPacket],
                                     decoded: list[Hj212Packet]) -> None:
    gap_hours = {"20260111060000", "20260111070000"}
    for packet, parsed in zip(packets, decoded, strict=True):
        if packet.mn == MN and packet.cn == "2061" and _items(parsed)["DataTime"] in gap_hours:
            assert "a21002-Avg" not in _items(parsed)
            assert "a21026-Avg" in _items(parsed)


def test_rtd_packets_carry_rtd_and_flag_only(decoded: list[Hj212Packet]) -> None:
    rtd = next(p for p in decoded if p.cn == "2011")
    keys = [k for k in rtd.cp_dict() if k != "DataTime"]
    assert keys and all(k.endswith(("-Rtd", "-Flag")) for k in keys)
    assert len(keys) == 18  # nine parameters


def test_hourly_flag_needs_three_quarters_normal_minutes(power_outlet: Outlet) -> None:
    clean = generate_cems([power_outlet], START, 4, seed=9)
    series = clean.series[power_outlet.mn]
    for p in series.flags:
        series.flags[p][:] = "N"  # a controlled start: no calibration in these hours
    series.flags["so2"][0:20] = "M"  # hour 0: 40/60 N → M
    series.flags["so2"][60:70] = "C"  # hour 1: 50/60 N → N, mean of the N minutes
    series.values["so2"][60:70] = 160.0
    series.values["nox"][120:140] = np.nan  # hour 2: 40 minutes present → D
    hourly = [CODEC.decode(p.raw).cp_dict() for p in build_packets(clean, commands=["hourly"])]
    assert [h["a21026-Flag"] for h in hourly] == ["M", "N", "N", "N"]
    assert hourly[2]["a21002-Flag"] == "D"
    expected = series.values["so2"][70:120].mean()
    assert float(hourly[1]["a21026-Avg"]) == pytest.approx(expected, abs=0.006)
    minute = [CODEC.decode(p.raw).cp_dict() for p in build_packets(clean, commands=["minute"])]
    assert minute[60]["a21026-Flag"] == "C" and minute[60]["a21026-Avg"] == "160.00"


def test_oversized_segments_split_into_complete_packets(run: CemsRun) -> None:
    small = build_packets(run, commands=["hourly"], max_data_length=400)
    assert all(int(p.raw[2:6]) <= 400 for p in small)
    one_hour = [CODEC.decode(p.raw) for p in small
                if p.mn == MN and p.data_time == START]
    assert len(one_hour) > 1
    assert len({p.qn for p in one_hour}) == len(one_hour)
    keys = [k for p in one_hour for k in p.cp_dict() if k != "DataTime"]
    assert len(keys) == len(set(keys))
    whole = CODEC.decode(next(p.raw for p in build_packets(run, commands=["hourly"])
                              if p.mn == MN and p.data_time == START)).cp_dict()
    assert set(keys) == set(whole) - {"DataTime"}
    with pytest.raises(ValueError, match="does not fit"):
        build_packets(run, commands=["hourly"], max_data_length=150)


def test_minute_interval_and_rtd_interval_and_flag(make_cems_outlet) -> None:
    outlet = make_cems_outlet("CEM1", "cement", 10.0, {"nox": 100}, minute_interval_min=10,
                              rtd_interval_s=30)
    clean = generate_cems([outlet], START + timedelta(minutes=5), 2, seed=1)
    packets = build_packets(clean, commands=["rtd", "minute"], flag=4)
    minute = [p for p in packets if p.cn == "2051"]
    # 00:05–02:05 holds the whole 10-minute periods 00:10 … 01:50.
    assert [p.data_time.strftime("%H%M") for p in minute][:2] == ["0010", "0020"]
    assert len(minute) == 11
    assert len([p for p in packets if p.cn == "2011"]) == 240
    assert not any(p.wants_ack for p in packets)
    assert all(CODEC.decode(p.raw).flag == 4 for p in packets)
    assert float(CODEC.decode(minute[0].raw).cp_dict()["a00000-Cou"]) == pytest.approx(
        float(CODEC.decode(minute[0].raw).cp_dict()["a00000-Avg"]) * 600, abs=0.06)


def test_day_windows_encode_the_same_periods_as_the_whole_run(
        cems_outlets: list[Outlet]) -> None:
    """The live sender encodes one local day at a time (simulators/cems_command.py): the
    windows are cut at local midnights and give the same minute, hourly and daily uploads as
    the whole run, with the same send times."""
    start = START + timedelta(hours=7, minutes=13)
    whole = simulate_cems(cems_outlets, start, 53, seed=4)
    windows = whole.day_windows()
    assert [w.n_minutes for w in windows] == [16 * 60 + 47, 24 * 60, 12 * 60 + 13]
    assert all(w.start.astimezone(SHANGHAI).time() == datetime.min.time() for w in windows[1:])
    assert sum(w.n_minutes for w in windows) == whole.n_minutes

    def uploads(packets: list[CemsPacket]) -> Counter[tuple[object, ...]]:
        # QN (send time plus a per-unit counter) may differ; the content may not
        return Counter((p.mn, p.cn, p.sent_at, p.data_time, CODEC.decode(p.raw).cp)
                       for p in packets)

    commands = ("minute", "hourly", "daily")
    pieces = [p for w in windows for p in build_packets(w, commands=commands)]
    assert uploads(pieces) == uploads(build_packets(whole, commands=commands))
    with pytest.raises(ValueError, match="outside"):
        whole.window(0, whole.n_minutes + 1)
