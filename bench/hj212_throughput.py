"""HJ 212 ingest benchmark: CEMS packets/s through the codec and intake (one core), through the
TCP gateway from many connected units and through MQTT into InfluxDB, against the ceilings of
the parts measured in the same run (CRC and split of the raw bytes; line protocol written
straight to InfluxDB; the MQTT publisher into a subscriber that only counts). Starts its own
Mosquitto and InfluxDB. Prints tables and JSON.

    .venv/bin/python bench/hj212_throughput.py [--units 50] [--hours 6] [--no-mqtt]
    .venv/bin/python bench/hj212_throughput.py --units 1000 --hours 0.5 --no-mqtt

Packets come from the CEMS simulator (real-time 2011 and minute 2051 data, Flag=5, so every
packet asks for a CN 9014 reply), one data acquisition unit per outlet; the register's outlets
are copied under new MNs to get `--units` of them. The cases live in bench.hj212_tcp
(`run_tcp_case`: gateway and units each in their own process, every unit's connection open
before timing starts) and bench.hj212_mqtt (`run_mqtt_case`).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.hj212_mqtt import run_mqtt_case
from bench.hj212_pipeline import bench_outlets, bench_packets
from bench.hj212_tcp import run_tcp_case
from config.outlets import Outlet
from config.settings import Settings
from ingest.hj212_codec import Hj212Codec, hj212_crc
from ingest.hj212_intake import Hj212Intake
from ingest.hj212_records import interpret_packet, record_line
from lantian.local_services import start_influxdb, start_mosquitto


# -- 1. codec and intake, one core --------------------------------------------------------------
def per_second(fn: Callable[[object], object], items: Sequence[object], repeat: int) -> float:
    """Best of `repeat` passes of fn over items, items/s."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - started)
    return len(items) / best


def codec_figures(settings: Settings, outlets_by_mn: dict[str, Outlet],
                  raws: Sequence[bytes], repeat: int) -> dict[str, float]:
    codec = Hj212Codec()
    intake = Hj212Intake(settings, outlets_by_mn, {})
    rules = intake.rules()
    segments = [raw[6:-6] for raw in raws]
    decoded = [codec.decode(raw) for raw in raws]
    records = [interpret_packet(p, rules).record for p in decoded]
    return {
        "crc_only": per_second(hj212_crc, segments, repeat),
        "split_only": per_second(lambda raw: raw.split(b";"), raws, repeat),
        "decode": per_second(codec.decode, raws, repeat),
        "interpret": per_second(lambda p: interpret_packet(p, rules), decoded, repeat),
        "line_protocol": per_second(record_line, records, repeat),
        "reply_9014": per_second(lambda p: codec.encode(codec.reply_to(p)), decoded, repeat),
        "intake_frame": per_second(lambda raw: intake.frame(raw, "bench"), raws, repeat),
    }


# -- main -------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--units", type=int, default=50, help="data acquisition units (MNs)")
    parser.add_argument("--hours", type=float, default=6.0,
                        help="hours of data per unit (120 packets per unit-hour)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--codec-packets", type=int, default=5000,
                        help="packets in the single-core codec timings")
    parser.add_argument("--repeat", type=int, default=3, help="codec passes (best is kept)")
    parser.add_argument("--paced", type=float, nargs="*", default=[0.1, 0.5],
                        help="paced TCP runs at these fractions of the measured TCP throughput")
    parser.add_argument("--paced-seconds", type=float, default=10.0)
    parser.add_argument("--same-process", action="store_true",
                        help="MQTT: run the units in a thread of this process (shares the GIL) "
                             "instead of their own process")
    parser.add_argument("--no-mqtt", action="store_true", help="skip the MQTT part")
    args = parser.parse_args()

    started = time.perf_counter()
    outlets = bench_outlets(args.units)
    sample = bench_packets(outlets, args.hours, args.seed)[:args.codec_packets]
    figures: dict[str, Any] = {
        "codec_per_s": {k: round(v) for k, v in codec_figures(
            Settings(), {o.mn: o for o in outlets}, [p.raw for p in sample], args.repeat).items()},
        "mean_packet_bytes": round(sum(len(p.raw) for p in sample) / len(sample), 1),
    }
    del sample
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = Path(scratch)
        influx = start_influxdb(run_dir)
        broker = None if args.no_mqtt else start_mosquitto(run_dir)
        try:
            figures["tcp"] = run_tcp_case(args.units, args.hours, args.seed, run_dir, broker,
                                          influx, paced=args.paced,
                                          paced_seconds=args.paced_seconds)
            if broker is not None:
                figures["mqtt"] = run_mqtt_case(
                    args.units, args.hours, args.seed, run_dir, broker, influx,
                    same_process=args.same_process,
                    influx_ceiling_per_s=figures["tcp"]["ceiling_per_s"])
        finally:
            if broker is not None:
                broker.stop()
            influx.stop()
    figures["wall_s"] = round(time.perf_counter() - started, 1)
    report(figures)


def _pairs(values: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in values.items())


def report(f: dict[str, Any]) -> None:
    c, t = f["codec_per_s"], f["tcp"]
    print(f"{t['count']:,} packets ({t['units']:,} units x {t['hours']:g} h, "
          f"{f['mean_packet_bytes']:.0f} bytes on average); {f['wall_s']:.0f} s in all")
    print("\nsingle core, packets/s:")
    print(f"{'CRC only':>10} {'split':>10} {'decode':>10} {'interpret':>10} {'line prot':>10} "
          f"{'9014':>10} {'intake':>10}")
    print(f"{c['crc_only']:>10,} {c['split_only']:>10,} {c['decode']:>10,} {c['interpret']:>10,} "
          f"{c['line_protocol']:>10,} {c['reply_9014']:>10,} {c['intake_frame']:>10,}")
    print(f"\n{'way in':>6} {'ceiling/s':>10} {'packets/s':>10} {'ratio':>6}  ceiling")
    for key, name in (("tcp", "TCP"), ("mqtt", "MQTT")):
        if key in f:
            r = f[key]
            print(f"{name:>6} {r['ceiling_per_s']:>10,} {r['rate_per_s']:>10,} "
                  f"{r['ratio']:>6.2f}  {r['ceiling']}")
    print(f"\nTCP: {t['connected']:,} units connected before the first byte (gateway count); "
          f"gateway fds {_pairs(t['gateway_fds'])}")
    print(f"  cores: {_pairs(t['cpu'])}  (gateway threads: {_pairs(t['gateway_threads'])})")
    print(f"  peak RSS MiB: {_pairs(t['peak_rss_mib'])}; gateway RSS MiB "
          f"{_pairs(t['gateway_rss_mib'])}")
    print(f"  units' last 9014, s after the first byte: {_pairs(t['unit_finish_s'])}")
    print("\n9014 reply latency, ms (packet handed to the socket -> reply read):")
    print(f"  back to back (queueing): {_pairs(t['saturated_latency_ms'])}")
    for p in t["paced"]:
        print(f"  paced at {p['offered_per_s']:,}/s ({p['fraction']:.0%}, {p['packets']:,} "
              f"packets, {p['packets_per_s']:,}/s achieved): {_pairs(p['latency_ms'])}; "
              f"cores {_pairs(p['cpu'])}")
    if "mqtt" in f:
        m = f["mqtt"]
        print(f"\nMQTT: ceiling {m['mqtt_ceiling_per_s']:,}/s (cores {_pairs(m['ceiling_cpu'])})"
              f"; pipeline cores {_pairs(m['cpu'])} (threads {_pairs(m['lantian_threads'])})")
    print(json.dumps(f))


if __name__ == "__main__":
    main()
