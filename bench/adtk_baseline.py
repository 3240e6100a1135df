"""Baseline for the falsification benchmark: general-purpose detectors of ADTK, per series.

ADTK (https://adtk.readthedocs.io, 0.6.2, the last release) does not run on this project's
pandas 3 / NumPy 2 (every detector fails in pandas' setitem with "Invalid value 'nan' for
dtype 'bool'"), so it runs in its own virtualenv, `bench/.adtk-venv` (git-ignored), made on
first use with the pins of `REQUIREMENTS` (pandas 1.5.3, NumPy 1.26.4). This file is both the
caller (project venv: `run_baseline`) and the worker (ADTK venv: ``detect``); the worker needs
nothing but pandas, NumPy and ADTK, so it imports nothing from the project.

    .venv/bin/python bench/adtk_baseline.py setup                  # make the venv
    .venv/bin/python bench/adtk_baseline.py run BUNDLE [--out F]   # findings JSONL

Each series is one source × pollutant of the bundle, hourly, valid values only (flag N or T,
as HJ 212 data are cleaned before any analysis: flagged hours are not measurements); outlet
concentrations are converted to the reference O2 for the limit check. A general detector has no
notion of falsification type, so each is mapped to the types whose signature it can see:

| ADTK detector (settings) | finding types (stations / outlets) |
|---|---|
| ThresholdAD(low=0) | impossible_value |
| ThresholdAD(high=limit), converted values | — / exceedance |
| InterQuartileRangeAD(c=6) | impossible_value / impossible_value, exceedance |
| PersistAD(window=24, c=6, both sides) | impossible_value / impossible_value, exceedance |
| LevelShiftAD(window=24, c=3, both sides) | neighbor_divergence / step_drop, dilution, bunching |
| VolatilityShiftAD(window=24, c=1, negative side) | flatline, low_variance |

No ADTK detector looks at exact repetition (copy_paste), at missing values (gap_at_peak) or at
flags (flag_abuse): those types get no baseline finding. Station exceedance is not scored.
Anomalous hours of every detector mapped to a type are merged (gaps ≤ 2 h closed) and each run
becomes one finding of that type, as the detectors of Lantian report one finding per episode.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

HERE = Path(__file__).resolve().parent
ADTK_VENV = HERE / ".adtk-venv"
REQUIREMENTS = (
    "adtk==0.6.2", "pandas==1.5.3", "numpy==1.26.4", "scipy==1.17.1", "scikit-learn==1.5.2",
    "statsmodels==0.14.6", "matplotlib==3.9.4",
)
_STAMP = "lantian-requirements.txt"
TZ_NAME = "Asia/Shanghai"
CLOSE_GAP_H = 2
STATION_POLLUTANTS = ("pm25", "pm10", "so2", "no2", "o3", "co")
OUTLET_POLLUTANTS = ("particulate", "so2", "nox")
# Detector settings: windows of a day of hours; each threshold c is the best (F1 of the types
# it maps to) of a one-at-a-time sweep on one labelled bundle (seed 11, 2015-01 – 2015-04;
# `falsification_benchmark.py --adtk-sweep`). VolatilityShiftAD needs c ≈ 1: it compares
# |σ_right − σ_left| / σ_left, which a fall in volatility keeps ≤ 1, so ADTK's usual c = 6
# never sees a flatline.
SETTINGS: dict[str, float] = {
    "iqr_c": 6.0, "persist_window": 24, "persist_c": 6.0, "level_window": 24,
    "level_c": 3.0, "volatility_window": 24, "volatility_c": 1.0,
}
SWEEP_GRID: dict[str, tuple[float, ...]] = {
    "iqr_c": (1.5, 3.0, 6.0, 10.0), "persist_c": (3.0, 6.0, 10.0), "level_c": (3.0, 6.0, 10.0),
    "volatility_c": (0.5, 0.8, 1.0, 1.5, 6.0),
}
# detector → finding types it targets, per kind of source.
MAPPING: dict[str, dict[str, tuple[str, ...]]] = {
    "ThresholdAD(low=0)": {"station": ("impossible_value",), "outlet": ("impossible_value",)},
    "ThresholdAD(high=limit)": {"station": (), "outlet": ("exceedance",)},
    "InterQuartileRangeAD": {"station": ("impossible_value",),
                             "outlet": ("impossible_value", "exceedance")},
    "PersistAD": {"station": ("impossible_value",), "outlet": ("impossible_value", "exceedance")},
    "LevelShiftAD": {"station": ("neighbor_divergence",),
                     "outlet": ("step_drop", "dilution", "bunching")},
    "VolatilityShiftAD": {"station": ("flatline", "low_variance"),
                          "outlet": ("flatline", "low_variance")},
}


# ---------------------------------------------------------------- caller (project virtualenv)


def venv_python() -> Path:
    return ADTK_VENV / "bin" / "python"


def ensure_venv(log: Any = print) -> Path:
    """The ADTK venv's python, creating the venv (or re-installing on changed pins) first."""
    stamp = ADTK_VENV / _STAMP
    wanted = "\n".join(REQUIREMENTS) + "\n"
    if venv_python().is_file() and stamp.is_file() and stamp.read_text() == wanted:
        return venv_python()
    base = getattr(sys, "_base_executable", None) or sys.executable
    log(f"creating {ADTK_VENV} with {base} and installing {' '.join(REQUIREMENTS)}")
    subprocess.run([base, "-m", "venv", "--clear", str(ADTK_VENV)], check=True)
    subprocess.run([str(venv_python()), "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", *REQUIREMENTS], check=True)
    stamp.write_text(wanted)
    return venv_python()


def run_baseline(bundle: Path, out: Path | None = None,
                 settings: dict[str, float] | None = None
                 ) -> tuple[list[dict[str, Any]], float]:
    """(findings, seconds) of the ADTK baseline over `bundle`, run in the ADTK venv.

    Findings are also kept in `out` (JSON lines) when given.
    """
    python = ensure_venv()
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(out) if out is not None else Path(scratch) / "adtk.jsonl"
        began = time.perf_counter()
        subprocess.run([str(python), str(Path(__file__).resolve()), "detect", str(bundle),
                        "--out", str(target), "--settings", json.dumps(settings or {})],
                       check=True,
                       env={**os.environ, "PYTHONWARNINGS": "ignore"})
        seconds = time.perf_counter() - began
        with target.open(encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()], seconds


# -------------------------------------------------------------------- worker (ADTK virtualenv)


def anomaly_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) inclusive of each True run, after closing gaps ≤ CLOSE_GAP_H."""
    import numpy as np

    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    spans = list(zip(edges[::2].tolist(), (edges[1::2] - 1).tolist(), strict=True))
    merged: list[tuple[int, int]] = []
    for first, last in spans:
        if merged and first - merged[-1][1] - 1 <= CLOSE_GAP_H:
            merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    return merged


def detect_series(series: pd.Series, converted: pd.Series | None, limit: float | None,
                  settings: dict[str, float]) -> dict[str, np.ndarray]:
    """detector → (T,) bool anomalies of one hourly series (NaN = no valid value).

    Also the unit of work that bench/adtk_speed_worker.py times: one series, all detectors.
    """
    import numpy as np
    from adtk.detector import (
        InterQuartileRangeAD,
        LevelShiftAD,
        PersistAD,
        ThresholdAD,
        VolatilityShiftAD,
    )

    def flagged(result: pd.Series) -> np.ndarray:
        return result.fillna(False).astype(bool).to_numpy()

    out: dict[str, np.ndarray] = {}
    out["ThresholdAD(low=0)"] = flagged(ThresholdAD(low=0.0).detect(series))
    if converted is not None and limit is not None and np.isfinite(limit):
        out["ThresholdAD(high=limit)"] = flagged(ThresholdAD(high=limit).detect(converted))
    if series.notna().sum() < 72:
        return out
    fitted = {
        "InterQuartileRangeAD": InterQuartileRangeAD(c=settings["iqr_c"]),
        "PersistAD": PersistAD(window=int(settings["persist_window"]), c=settings["persist_c"],
                               side="both"),
        "LevelShiftAD": LevelShiftAD(window=int(settings["level_window"]),
                                     c=settings["level_c"], side="both"),
        "VolatilityShiftAD": VolatilityShiftAD(window=int(settings["volatility_window"]),
                                               c=settings["volatility_c"], side="negative"),
    }
    for name, detector in fitted.items():
        try:
            out[name] = flagged(detector.fit_detect(series))
        except (ValueError, RuntimeError):
            continue  # e.g. a constant series: nothing to fit
    return out


def typed_runs(masks: dict[str, np.ndarray], kind: str, n_hours: int
               ) -> list[tuple[str, int, int, int, list[str]]]:
    """(type, first, last, anomalous hours, detectors) of each finding of one series: the hours
    of every detector mapped to a type are merged, and each run (gaps ≤ CLOSE_GAP_H closed) is
    one finding, as Lantian reports one finding per episode."""
    import numpy as np

    by_type: dict[str, np.ndarray] = {}
    used: dict[str, list[str]] = {}
    for name, mask in masks.items():
        for type_ in MAPPING[name][kind]:
            by_type[type_] = by_type.get(type_, np.zeros(n_hours, bool)) | mask
            used.setdefault(type_, []).append(name)
    return [(type_, first, last, int(mask[first:last + 1].sum()), used[type_])
            for type_, mask in by_type.items() for first, last in anomaly_runs(mask)]


def detect_bundle(bundle: Path, settings: dict[str, float] | None = None
                  ) -> list[dict[str, Any]]:
    """The baseline's findings (formats.md §3 records) over an audit bundle folder."""
    chosen = {**SETTINGS, **(settings or {})}
    import numpy as np
    import pandas as pd
    from adtk.data import validate_series

    bundle = Path(bundle)
    sources = pd.read_csv(bundle / "sources.csv", dtype=str, keep_default_na=False)
    readings = pd.read_csv(bundle / "readings.csv", dtype={"value": float},
                           keep_default_na=False, na_values={"value": [""]})
    readings["flag"] = readings["flag"].replace("", "N")
    labels = pd.Series(readings["time"].unique())
    when = pd.Series(pd.to_datetime(labels, utc=True).to_numpy(), index=labels)
    readings["when"] = readings["time"].map(when)
    valid = readings[readings["flag"].isin(["N", "T"])]
    wide = valid.pivot_table(index="when", columns=["source", "pollutant"], values="value",
                             aggfunc="first")
    index = pd.date_range(readings["when"].min(), readings["when"].max(), freq="H")
    wide = wide.reindex(index)
    local = index.tz_convert(TZ_NAME)
    findings: list[dict[str, Any]] = []
    for _, source in sources.iterrows():
        kind = source["kind"]
        pollutants = STATION_POLLUTANTS if kind == "station" else OUTLET_POLLUTANTS
        ref = pd.to_numeric(source.get("reference_o2", ""), errors="coerce")
        for pollutant in pollutants:
            key = (source["id"], pollutant)
            if key not in wide.columns or wide[key].notna().sum() == 0:
                continue
            series = validate_series(wide[key].astype(float))
            converted = None
            limit = None
            if kind == "outlet":
                limit = pd.to_numeric(source.get(f"limit_{pollutant}", ""), errors="coerce")
                converted = series
                if np.isfinite(ref) and (source["id"], "o2") in wide.columns:
                    o2 = wide[(source["id"], "o2")].clip(upper=20.0)
                    converted = series * (21.0 - ref) / (21.0 - o2)
            masks = detect_series(series, converted, limit, chosen)
            for type_, first, last, hours, used in typed_runs(masks, kind, len(index)):
                findings.append({
                    "source": source["id"], "pollutant": pollutant, "type": type_,
                    "start": local[first].isoformat(), "end": local[last].isoformat(),
                    "score": float(hours),
                    "evidence": {"detectors": used, "anomalous_hours": hours},
                })
    return findings


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("setup", help="create the ADTK virtualenv")
    run = commands.add_parser("run", help="run the baseline over a bundle (from the project "
                                          "venv; uses the ADTK venv)")
    run.add_argument("bundle", type=Path)
    run.add_argument("--out", type=Path)
    detect = commands.add_parser("detect", help="worker: run inside the ADTK venv")
    detect.add_argument("bundle", type=Path)
    detect.add_argument("--out", type=Path, required=True)
    detect.add_argument("--settings", default="{}", help="JSON overriding SETTINGS")
    args = parser.parse_args(argv)
    if args.command == "setup":
        print(ensure_venv())
    elif args.command == "run":
        findings, seconds = run_baseline(args.bundle, args.out)
        print(f"{len(findings)} ADTK finding(s) in {seconds:.1f} s"
              + (f", written to {args.out}" if args.out else ""))
    else:
        warnings.simplefilter("ignore")
        found = detect_bundle(args.bundle, json.loads(args.settings))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("w", encoding="utf-8") as handle:
            for record in found:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
