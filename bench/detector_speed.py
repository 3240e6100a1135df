"""Speed and memory of every falsification detector over 5,000 sources × 30 days of minute data,
and of ADTK judging the same data.

216 million pollutant values (5,000 series × 43,200 minutes); the 1,000 outlets among them also
carry O2, flow and temperature (another 130 million process values) and flags, so dilution,
step_drop and flag_abuse have their signals. Sources are generated and judged in blocks of
`--block` (the suite's own blocking), so memory stays bounded. Targets: < 60 s and < 6 GB
peak on 2 cores, and ≥ 20× faster than ADTK (issue 8).

Two baselines over the same blocks, in the same run:
- one NaN-aware mean and standard deviation per source (`np.nanmean` + `np.nanstd`), the
  cheapest statistic anything could compute over the data;
- ADTK (bench/adtk_baseline.py's detectors and mapping). Each block's pollutant (with its flags,
  and O2 at outlets) is written as .npy to a scratch folder; after Lantian is done,
  bench/adtk_speed_worker.py memory-maps them in the ADTK venv and times the hourly resample and
  the five detectors per series. With `--adtk-sample N` it judges a seeded sample of N series
  drawn evenly from every block and the time is extrapolated linearly per series and per kind
  (ADTK judges one series at a time); the output says so.

    .venv/bin/python bench/detector_speed.py [--sources 5000] [--days 30] [--block 500]
        [--adtk-sample N (0 = every series)] [--no-adtk]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from analytics.falsification.audit_series import AuditSeries
from analytics.falsification.suite import DETECTORS, DetectorSettings, run_detectors
from bench import adtk_baseline

T0 = np.datetime64("2026-01-01T00:00:00", "s")
MINUTES_PER_DAY = 1440
OUTLET_SHARE = 0.2
WORKER = Path(__file__).resolve().parent / "adtk_speed_worker.py"


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


def save_for_adtk(folder: Path, index: int, block: AuditSeries, rows: np.ndarray
                  ) -> dict[str, Any]:
    """Write `rows` of the block's pollutant (its flags, O2 at outlets) as .npy for the ADTK
    worker; return the manifest entry describing them."""
    stem = f"block{index:03d}"
    pollutant = block.pollutants()[0]
    np.save(folder / f"{stem}.{pollutant}.npy", block.values[pollutant][rows])
    if pollutant in block.flags:
        np.save(folder / f"{stem}.{pollutant}.flags.npy", block.flags[pollutant][rows])
    entry: dict[str, Any] = {"stem": stem, "kind": block.kind, "pollutant": pollutant,
                             "t0": str(block.times[0]), "step_s": block.step_s,
                             "rows": rows.tolist()}
    if block.kind == "outlet":
        np.save(folder / f"{stem}.o2.npy", block.values["o2"][rows])
        entry["reference_o2"] = np.asarray(block.reference_o2)[rows].tolist()
        entry["limits"] = block.limit(pollutant)[rows].tolist()
    return entry


def run_adtk(folder: Path, blocks: list[dict[str, Any]]) -> tuple[dict[str, Any], float]:
    """The worker's report (per block: reduce_s, per_series_s, findings; peak_gb) and the
    wall seconds of the worker process (imports included)."""
    python = adtk_baseline.ensure_venv()
    (folder / "manifest.json").write_text(json.dumps({"blocks": blocks}))
    out = folder / "adtk.json"
    began = time.perf_counter()
    subprocess.run([str(python), str(WORKER), str(folder), str(out)], check=True,
                   env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return json.loads(out.read_text()), time.perf_counter() - began


def adtk_estimate(report: dict[str, Any], totals: Counter[str]) -> dict[str, Any]:
    """ADTK seconds for all series: measured, or extrapolated per kind (× all ÷ judged series)
    when a sample was judged; per-series cost and spread (ms)."""
    seconds = 0.0
    judged: Counter[str] = Counter()
    per_series: list[float] = []
    for kind in totals:
        blocks = [b for b in report["blocks"] if b["kind"] == kind]
        n = sum(b["series"] for b in blocks)
        if n == 0:
            continue
        judged[kind] = n
        measured = sum(b["reduce_s"] + sum(b["per_series_s"]) for b in blocks)
        seconds += measured * totals[kind] / n
        per_series += [s for b in blocks for s in b["per_series_s"]]
    ms = np.asarray(per_series) * 1e3
    reduce_s = sum(b["reduce_s"] for b in report["blocks"])
    return {"seconds": seconds, "judged": sum(judged.values()),
            "measured_s": reduce_s + ms.sum() / 1e3, "reduce_s": reduce_s,
            "per_series_ms": {"mean": float(ms.mean()), "p5": float(np.percentile(ms, 5)),
                              "median": float(np.median(ms)),
                              "p95": float(np.percentile(ms, 95)), "max": float(ms.max())},
            "findings": sum(b["findings"] for b in report["blocks"]),
            "peak_gb": report["peak_gb"], "warm_up_s": report["warm_up_s"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=5000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--block", type=int, default=500)
    parser.add_argument("--adtk-sample", type=int, default=0,
                        help="judge only this many series with ADTK, extrapolate (0 = all)")
    parser.add_argument("--no-adtk", action="store_true", help="skip the ADTK baseline")
    args = parser.parse_args()
    n_minutes = args.days * MINUTES_PER_DAY
    n_outlets = int(args.sources * OUTLET_SHARE)
    settings = DetectorSettings(block_sources=args.block)
    rng = np.random.default_rng(20261123)
    sampler = np.random.default_rng(20261124)
    per_detector: Counter[str] = Counter()
    found: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    detect_s = baseline_s = generate_s = 0.0
    load = [os.getloadavg()[0]]
    scratch = tempfile.TemporaryDirectory(prefix="detector_speed_")
    folder = Path(scratch.name)
    manifest: list[dict[str, Any]] = []
    for index, first in enumerate(range(0, args.sources, args.block)):
        n = min(args.block, args.sources - first)
        began = time.perf_counter()
        block = (outlet_block(rng, first, n, n_minutes) if first < n_outlets
                 else station_block(rng, first, n, n_minutes))
        generate_s += time.perf_counter() - began
        totals[block.kind] += n
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
        if not args.no_adtk:
            take = (n if not args.adtk_sample
                    else max(1, round(args.adtk_sample * n / args.sources)))
            rows = np.sort(sampler.choice(n, size=take, replace=False))
            manifest.append(save_for_adtk(folder, index, block, rows))
        del block
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    load.append(os.getloadavg()[0])
    adtk: dict[str, Any] | None = None
    if not args.no_adtk:
        report, worker_s = run_adtk(folder, manifest)
        adtk = {**adtk_estimate(report, totals), "worker_wall_s": worker_s}
        load.append(os.getloadavg()[0])
    scratch.cleanup()
    print_report(args, n_outlets, per_detector, found, detect_s, baseline_s, generate_s,
                 peak_gb, adtk, load)


def print_report(args: argparse.Namespace, n_outlets: int, per_detector: Counter[str],
                 found: Counter[str], detect_s: float, baseline_s: float, generate_s: float,
                 peak_gb: float, adtk: dict[str, Any] | None, load: list[float]) -> None:
    """The table of detectors, the table of implementations, and one JSON line."""
    values = args.sources * args.days * MINUTES_PER_DAY
    print(f"{args.sources:,} sources × {args.days} days of minute data = {values / 1e6:.0f} M "
          f"pollutant values ({n_outlets:,} outlets also with O2, flow, temperature); blocks of "
          f"{args.block}; load average (1 min) at start / after Lantian / after ADTK: "
          + " / ".join(f"{x:.2f}" for x in load))
    print(f"{'detector':<22}{'seconds':>9}{'findings':>10}")
    for name, seconds in per_detector.most_common():
        print(f"{name:<22}{seconds:>9.2f}{found[name]:>10}")
    print(f"{'all detectors':<22}{detect_s:>9.2f}   target < 60 s")
    ratio = detect_s / baseline_s
    print(f"{'baseline (nanmean+nanstd)':<22}{baseline_s:>9.2f}   ratio {ratio:.1f}×")
    print(f"data generation (not counted): {generate_s:.1f} s")
    print(f"peak memory (max RSS) of this process: {peak_gb:.2f} GB   target < 6 GB")
    figures: dict[str, Any] = {
        "sources": args.sources, "days": args.days, "values": values,
        "detect_s": round(detect_s, 2), "baseline_s": round(baseline_s, 2),
        "ratio": round(detect_s / baseline_s, 2), "peak_gb": round(peak_gb, 2),
        "per_detector_s": {k: round(v, 2) for k, v in per_detector.items()}, "load": load}
    if adtk is not None:
        speedup = adtk["seconds"] / detect_s
        sampled = adtk["judged"] < args.sources
        how = (f"EXTRAPOLATED from a seeded sample of {adtk['judged']:,} series "
               f"(measured {adtk['measured_s']:.1f} s), linearly per series and kind"
               if sampled else f"measured over all {adtk['judged']:,} series")
        print(f"\n{'implementation':<34}{'seconds':>9}{'series/s':>10}{'ADTK ÷ it':>11}"
              f"{'peak RSS GB':>13}")
        for name, seconds, rss in (("Lantian, 11 detectors", detect_s, peak_gb),
                                   ("ADTK, resample + 5 detectors", adtk["seconds"],
                                    adtk["peak_gb"])):
            print(f"{name:<34}{seconds:>9.1f}{args.sources / seconds:>10.0f}"
                  f"{adtk['seconds'] / seconds:>10.1f}×{rss:>13.2f}")
        spread = adtk["per_series_ms"]
        print(f"ADTK {how}; hourly resample {adtk['reduce_s']:.1f} s of it; per series "
              f"(detectors + merge) mean {spread['mean']:.1f} ms, p5 {spread['p5']:.1f}, "
              f"median {spread['median']:.1f}, p95 {spread['p95']:.1f}, max {spread['max']:.1f}; "
              f"{adtk['findings']:,} findings in the judged series; worker wall "
              f"{adtk['worker_wall_s']:.1f} s incl. imports + warm-up {adtk['warm_up_s']:.1f} s")
        print(f"ADTK ÷ Lantian = {speedup:.1f}×   target ≥ 20×")
        figures["adtk"] = {k: (round(v, 3) if isinstance(v, float) else v)
                           for k, v in adtk.items()
                           if k != "per_series_ms"} | {
            "per_series_ms": {k: round(v, 2) for k, v in spread.items()},
            "extrapolated": sampled, "ratio_adtk_over_lantian": round(speedup, 2)}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
