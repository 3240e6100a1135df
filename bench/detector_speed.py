"""Speed and memory of every falsification detector over 5,000 sources × 30 days of minute data.

216 million pollutant values (5,000 series × 43,200 minutes); the 1,000 outlets among them also
carry O2, flow and temperature (another 130 million process values) and flags, so dilution,
step_drop and flag_abuse have their signals. Sources are generated and judged in blocks of
`--block` (the suite's own blocking), so memory stays bounded. Targets: < 60 s and < 6 GB
peak on 2 cores.

The baseline, measured in the same run over the same blocks: one NaN-aware mean and standard
deviation per source (`np.nanmean` + `np.nanstd`), i.e. the cheapest statistic anything could
compute over the data. The ratio says how many such passes the detectors cost.

    .venv/bin/python bench/detector_speed.py [--sources 5000] [--days 30] [--block 500]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections import Counter

import numpy as np

from analytics.falsification.audit_series import AuditSeries
from analytics.falsification.suite import DETECTORS, DetectorSettings, run_detectors

T0 = np.datetime64("2026-01-01T00:00:00", "s")
MINUTES_PER_DAY = 1440
OUTLET_SHARE = 0.2


def _diurnal(n_minutes: int) -> np.ndarray:
    minute_of_day = np.arange(n_minutes) % MINUTES_PER_DAY
    return 1.0 + 0.3 * np.sin(2 * np.pi * (minute_of_day / MINUTES_PER_DAY - 0.3))


def station_block(rng: np.random.Generator, first: int, n: int, n_minutes: int) -> AuditSeries:
    """`n` stations of PM2.5 (µg/m³): a daily cycle × a slow random level × noise, 1 % gaps."""
    level = np.exp(rng.normal(3.6, 0.5, (n, 1)) + np.cumsum(
        rng.normal(0, 0.004, (n, n_minutes)), axis=1, dtype=np.float64))
    values = level * _diurnal(n_minutes) * rng.lognormal(0, 0.08, (n, n_minutes))
    values[rng.random((n, n_minutes)) < 0.01] = np.nan
    lat = 39.9 + rng.uniform(-0.3, 0.3, n)
    lon = 116.4 + rng.uniform(-0.3, 0.3, n)
    return AuditSeries("station", tuple(f"S{first + i:05d}" for i in range(n)),
                       T0 + np.arange(n_minutes) * np.timedelta64(60, "s"), {"pm25": values},
                       step_s=60, lat=lat, lon=lon)


def outlet_block(rng: np.random.Generator, first: int, n: int, n_minutes: int) -> AuditSeries:
    """`n` stacks: SO2 (mg/m³) around 60 % of a 35 mg/m³ limit, O2 ~ 7 %, flow ~ 1e6 m³/h,
    temperature ~ 120 °C; SO2 carries HJ 212 flags, 0.5 % of minutes M (maintenance)."""
    load = 0.8 + 0.2 * _diurnal(n_minutes)[None, :] * rng.uniform(0.8, 1.2, (n, 1))
    so2 = 20.0 * load * rng.lognormal(0, 0.1, (n, n_minutes))
    o2 = 7.0 + rng.normal(0, 0.3, (n, n_minutes))
    flow = 1.0e6 * load * rng.lognormal(0, 0.03, (n, n_minutes))
    temperature = 120.0 + rng.normal(0, 2.0, (n, n_minutes))
    flags = np.where(rng.random((n, n_minutes)) < 0.005, b"M", b"N").astype("S1")
    return AuditSeries("outlet", tuple(f"O{first + i:05d}" for i in range(n)),
                       T0 + np.arange(n_minutes) * np.timedelta64(60, "s"),
                       {"so2": so2, "o2": o2, "flow": flow, "temperature": temperature},
                       flags={"so2": flags}, step_s=60,
                       reference_o2=np.full(n, 6.0), limits={"so2": np.full(n, 35.0)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=5000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--block", type=int, default=500)
    args = parser.parse_args()
    n_minutes = args.days * MINUTES_PER_DAY
    n_outlets = int(args.sources * OUTLET_SHARE)
    settings = DetectorSettings(block_sources=args.block)
    rng = np.random.default_rng(20261123)
    per_detector: Counter[str] = Counter()
    found: Counter[str] = Counter()
    detect_s = baseline_s = generate_s = 0.0
    for first in range(0, args.sources, args.block):
        n = min(args.block, args.sources - first)
        began = time.perf_counter()
        block = (outlet_block(rng, first, n, n_minutes) if first < n_outlets
                 else station_block(rng, first, n, n_minutes))
        generate_s += time.perf_counter() - began
        began = time.perf_counter()
        for values in block.values.values():
            np.nanmean(values, axis=1)
            np.nanstd(values, axis=1)
        baseline_s += time.perf_counter() - began
        for name in settings.enabled:
            if block.kind not in DETECTORS[name].kinds:
                continue
            began = time.perf_counter()
            findings = run_detectors(block, DetectorSettings(enabled=(name,),
                                                             block_sources=args.block))
            per_detector[name] += time.perf_counter() - began  # type: ignore[assignment]
            found[name] += len(findings)
        detect_s = sum(per_detector.values())
        del block
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    values = args.sources * n_minutes
    print(f"{args.sources:,} sources × {args.days} days of minute data = {values / 1e6:.0f} M "
          f"pollutant values ({n_outlets:,} outlets also with O2, flow, temperature); blocks of "
          f"{args.block}")
    print(f"{'detector':<22}{'seconds':>9}{'findings':>10}")
    for name, seconds in per_detector.most_common():
        print(f"{name:<22}{seconds:>9.2f}{found[name]:>10}")
    print(f"{'all detectors':<22}{detect_s:>9.2f}   target < 60 s")
    ratio = detect_s / baseline_s
    print(f"{'baseline (nanmean+nanstd)':<22}{baseline_s:>9.2f}   ratio {ratio:.1f}×")
    print(f"data generation (not counted): {generate_s:.1f} s")
    print(f"peak memory (max RSS): {peak_gb:.2f} GB   target < 6 GB")
    print(json.dumps({"sources": args.sources, "days": args.days, "values": values,
                      "detect_s": round(detect_s, 2), "baseline_s": round(baseline_s, 2),
                      "ratio": round(detect_s / baseline_s, 2), "peak_gb": round(peak_gb, 2),
                      "per_detector_s": {k: round(v, 2) for k, v in per_detector.items()}}))


if __name__ == "__main__":
    main()
