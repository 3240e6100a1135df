"""Worker of bench/detector_speed.py: times ADTK judging minute blocks, in the ADTK virtualenv.

bench/detector_speed.py writes the blocks it gives Lantian's detectors as .npy files plus a
`manifest.json` into a scratch folder; this worker memory-maps them and times what ADTK needs to
judge each series the way bench/adtk_baseline.py does: hourly means of the measured minutes
(flag N or T; an hour needs ≥ 45 of them, as Lantian's own reduction) by pandas `resample`, one
block at a time (vectorised over the block's series, the cheapest way pandas offers), then per
series `validate_series`, the five ADTK detectors of `adtk_baseline.detect_series`, and the
merge of anomalous hours into findings (`adtk_baseline.typed_runs`). Importing ADTK and one
warm-up series happen before timing starts. It imports only NumPy, pandas, ADTK and
bench/adtk_baseline.py (which imports nothing of the project): the project's pandas 3 / NumPy 2
cannot run ADTK.

    bench/.adtk-venv/bin/python bench/adtk_speed_worker.py SCRATCH_DIR OUT_JSON
"""

from __future__ import annotations

import importlib
import json
import resource
import sys
import time
import warnings
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd
from adtk.data import validate_series

from bench.adtk_baseline import SETTINGS, detect_series, typed_runs

MIN_MEASURED_MINUTES = 45  # of 60: GB 3095's valid hour, Lantian's VALID_HOUR_SHARE
MEASURED = np.array([ord("N"), ord("T")], dtype=np.uint8)


def measured(values: np.ndarray, flags: np.ndarray | None) -> np.ndarray:
    """(S, T) values with non-measured minutes (flag not N or T) as NaN."""
    if flags is None:
        return np.asarray(values, dtype=np.float64)
    return np.where(np.isin(flags.view(np.uint8), MEASURED), values, np.nan)


def hourly_means(values: np.ndarray, minutes: pd.DatetimeIndex) -> pd.DataFrame:
    """(hours × S) means of the measured minutes by pandas resample; NaN for < 45 of them."""
    frame = pd.DataFrame(values.T, index=minutes)
    resampled = frame.resample("h")
    return resampled.mean().where(resampled.count() >= MIN_MEASURED_MINUTES)


def judge_block(folder: Path, block: dict[str, Any]) -> dict[str, Any]:
    """Seconds of the block's reduction, and per series (detectors + merge) and findings."""
    def load(name: str) -> np.ndarray | None:
        path = folder / f"{block['stem']}.{name}.npy"
        return np.load(path, mmap_mode="r") if path.is_file() else None

    pollutant = block["pollutant"]
    values, flags, o2 = load(pollutant), load(f"{pollutant}.flags"), load("o2")
    assert values is not None
    minutes = pd.date_range(pd.Timestamp(block["t0"], tz="UTC"), periods=values.shape[1],
                            freq=f"{block['step_s']}s")
    began = time.perf_counter()
    hourly = hourly_means(measured(values, flags), minutes)
    hourly_o2 = (None if o2 is None
                 else hourly_means(np.asarray(o2, dtype=np.float64), minutes).clip(upper=20.0))
    reduce_s = time.perf_counter() - began
    reference = block.get("reference_o2")
    limits = block.get("limits")
    per_series: list[float] = []
    found = 0
    for column in range(hourly.shape[1]):
        began = time.perf_counter()
        series = validate_series(hourly[column].astype(float))
        converted = limit = None
        if block["kind"] == "outlet":
            limit = float(limits[column]) if limits is not None else None
            converted = series
            if reference is not None and hourly_o2 is not None:
                converted = series * (21.0 - reference[column]) / (21.0 - hourly_o2[column])
        masks = detect_series(series, converted, limit, SETTINGS)
        found += len(typed_runs(masks, block["kind"], len(series)))
        per_series.append(time.perf_counter() - began)
    return {"kind": block["kind"], "series": hourly.shape[1], "reduce_s": reduce_s,
            "per_series_s": per_series, "findings": found}


def warm_up() -> float:
    """Seconds of one untimed call on a synthetic month: imports ADTK's detectors (and what
    they load lazily) so that the first timed series does not pay for them."""
    began = time.perf_counter()
    importlib.import_module("adtk.detector")
    index = pd.date_range("2026-01-01", periods=720, freq="h", tz="UTC")
    series = pd.Series(np.random.default_rng(0).lognormal(3.6, 0.1, 720), index=index)
    detect_series(validate_series(series), series, 35.0, SETTINGS)
    return time.perf_counter() - began


def peak_rss_gb() -> float:
    """This process's peak resident memory, GB: VmHWM, which exec resets. (ru_maxrss of a
    child started by fork/vfork + exec keeps the parent's high-water mark.)"""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024**2
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main() -> None:
    folder, out = Path(sys.argv[1]), Path(sys.argv[2])
    warnings.simplefilter("ignore")
    warm_s = warm_up()
    manifest = json.loads((folder / "manifest.json").read_text())
    results = [judge_block(folder, block) for block in manifest["blocks"]]
    out.write_text(json.dumps({"blocks": results, "peak_gb": peak_rss_gb(),
                               "warm_up_s": warm_s}))


if __name__ == "__main__":
    main()
