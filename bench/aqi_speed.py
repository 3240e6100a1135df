"""AQI speed: Lantian's vectorized HJ 633 over 10 M concentrations against python-aqi and aqi-hub.

The values: the six real-time (1-hour) indicators — PM2.5, PM10, SO2, NO2, CO, O3 — of ~1,000
sources over 70 days of hours (10 M concentrations, seeded lognormal, µg/m3 with one decimal,
CO mg/m3 with two). The days run from 2026-01-25 to 2026-04-04 local time, so half the hours
fall under HJ 633-2012 and half under HJ 633-2026, chosen by each hour's local date as
`analytics.aqi.hourly_aqi` does. Timed, best of `--repeat`:

* Lantian `compute_iaqi` per indicator (the IAQI of every value: the peers' job) and
  `hourly_aqi` (IAQIs plus AQI, level and primary pollutant: the full real-time report), over
  all values, in this process;
* the PyPI packages python-aqi (`aqi.algos.mep`, HJ 633-2012 table) and aqi-hub
  (`cal_iaqi_cn`, HJ 633-2026 table), one call per value, on a seeded sample of the same values
  (`--sample`, default 100,000), in their own virtualenv `bench/.aqi-venv` (git-ignored, made on
  first use with `REQUIREMENTS`). Their per-value cost has no batch effect, so values/s on the
  sample extrapolates linearly to the full set; that extrapolation is printed, not measured.

Inputs are prepared outside the timing in each one's own form: float64 arrays for Lantian,
the decimal string for python-aqi (its documented input), a float for aqi-hub.
Correctness is judged against the HJ 633 test vectors of shared/domain.md §10.1–10.2, not
against the packages; the agreement with each package on the sample is reported with each
disagreement attributed to the smallest set of that package's known deviations from the
standard (domain.md §1.3, §1.7) that reproduces its value in exact arithmetic.

    .venv/bin/python bench/aqi_speed.py [--values 10000000] [--sample 100000] [--repeat 3]
    .venv/bin/python bench/aqi_speed.py setup      # only make bench/.aqi-venv

This file is both the caller (project venv) and the worker (``peers``, run by the package
venv): the worker needs only the standard library and the two packages.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analytics.series_window import SeriesWindow

HERE = Path(__file__).resolve().parent
PEER_VENV = HERE / ".aqi-venv"
REQUIREMENTS = ("python-aqi==0.6.1", "aqi-hub==0.3.3")
_STAMP = "lantian-requirements.txt"
TZ_NAME = "Asia/Shanghai"
TARGET_RATIO = 100.0
HOURS = 70 * 24
FIRST_HOUR_UTC = "2026-01-24T16:00"  # 2026-01-25 00:00 in Asia/Shanghai
IAQI_ROWS = (0, 50, 100, 150, 200, 300, 400, 500)

# pollutant → (Lantian indicator, python-aqi name, aqi-hub item, decimals sent, median, sigma):
# the real-time report's 1-hour indicators; lognormal medians of a polluted northern winter.
POLLUTANTS: dict[str, tuple[str, str, str, int, float, float]] = {
    "pm25": ("pm25", "pm25", "PM25_1H", 1, 50.0, 0.8),
    "pm10": ("pm10", "pm10", "PM10_1H", 1, 85.0, 0.7),
    "so2": ("so2_1h", "so2_1h", "SO2_1H", 1, 8.0, 0.8),
    "no2": ("no2_1h", "no2_1h", "NO2_1H", 1, 40.0, 0.5),
    "co": ("co_1h", "co_1h", "CO_1H", 2, 0.9, 0.6),
    "o3": ("o3_1h", "o3_1h", "O3_1H", 1, 60.0, 0.7),
}

# domain.md §10.1 (PM2.5) and §10.2 (PM10): concentration → IAQI under 2012 and 2026;
# the same points as tests/unit/analytics/test_aqi_vectors.py.
VECTORS: tuple[tuple[str, str, int, int], ...] = tuple(
    [("pm25", c, a, b) for c, a, b in (
        ("0", 0, 0), ("20", 29, 29), ("35", 50, 50), ("35.6", 51, 52), ("50", 69, 80),
        ("60", 82, 100), ("60.5", 82, 100), ("61.5", 84, 102), ("75", 100, 114),
        ("75.5", 101, 115), ("100", 132, 137), ("115", 150, 150), ("130", 172, 172),
        ("150", 200, 200), ("180", 230, 230), ("250", 300, 300), ("300", 350, 350),
        ("350", 400, 400), ("420", 447, 447), ("500", 500, 500))]
    + [("pm10", c, a, b) for c, a, b in (
        ("0", 0, 0), ("30", 30, 30), ("50", 50, 50), ("100", 75, 86), ("120", 85, 100),
        ("150", 100, 112), ("151", 101, 112), ("200", 125, 131), ("250", 150, 150),
        ("300", 175, 175), ("350", 200, 200), ("380", 243, 243), ("420", 300, 300),
        ("460", 350, 350), ("500", 400, 400), ("550", 450, 450), ("600", 500, 500))]
)

# Each package's known deviations from HJ 633 (rule names of `exact_iaqi`), and what they mean.
PEER_DEVIATIONS: dict[str, tuple[str, ...]] = {
    "python-aqi": ("truncate", "disjoint", "half_even"),
    "aqi-hub": ("preround", "binary_float"),
}
EXPLANATIONS: dict[str, str] = {
    "truncate": "truncates the concentration to an integer, CO to whole mg/m3 (§1.7 item 3)",
    "disjoint": "US-style disjoint bands 0–35, 36–75 … → IAQI 0–50, 51–100 … (§1.7 item 2)",
    "half_even": "rounds the IAQI half-to-even instead of up (§1.7 item 4)",
    "preround": "skips the GB/T 8170 pre-rounding of the concentration (§1.3)",
    "binary_float": "ceils a binary-float result: an exact integer IAQI lands a hair above "
                    "and goes up by one (§1.3: ceiling of the exact value)",
    "beyond": "above the top breakpoint: raises (§1.7 item 5) where Lantian gives 500 (§1.2)",
}


# ------------------------------------------------------------- pure helpers (standard library)


def exact_iaqi(text: str, column: Sequence[float], rules: frozenset[str] = frozenset(),
               decimals: int = 0) -> int | None:
    """IAQI of the decimal string `text` under one breakpoint `column` (domain.md §1.2), exactly.

    `column` lists the concentration breakpoints aligned with IAQI 0, 50, 100 … (units of the
    indicator); `rules` switch on variants: "preround" (GB/T 8170 half-even to `decimals`
    first, as HJ 633-2026), "truncate" (cut to an integer), "disjoint" (bands lo+1..hi),
    "half_even" (IAQI rounded half-even, not up), "binary_float" (the formula in float64,
    then ceiling). None above the top breakpoint or in a gap between disjoint bands.
    """
    value = Decimal(text)
    if "preround" in rules:
        value = value.quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_EVEN)
    if "truncate" in rules:
        value = value.quantize(Decimal(1), ROUND_DOWN)
    conc = Fraction(value)
    for band in range(1, len(column)):
        step = 1 if "disjoint" in rules and band > 1 else 0
        bp_lo, bp_hi = Fraction(column[band - 1]) + step, Fraction(column[band])
        iaqi_lo, iaqi_hi = IAQI_ROWS[band - 1] + step, IAQI_ROWS[band]
        if bp_lo <= conc <= bp_hi:
            break
    else:
        return None
    if "binary_float" in rules:
        approx = ((iaqi_hi - iaqi_lo) / float(bp_hi - bp_lo) * (float(value) - float(bp_lo))
                  + iaqi_lo)
        return math.ceil(approx)
    exact = iaqi_lo + (iaqi_hi - iaqi_lo) * (conc - bp_lo) / (bp_hi - bp_lo)
    return round(exact) if "half_even" in rules else math.ceil(exact)


def explain(got: int | None, text: str, column: Sequence[float], standard: frozenset[str],
            deviations: Sequence[str], decimals: int = 0) -> str:
    """Smallest set of `deviations` that, toggled on the `standard` rules, reproduces `got`.

    "+"-joined rule names (a rule already in `standard`, such as "preround" in 2026, is
    toggled off); "beyond" when the package gave nothing for a value above the table;
    "unexplained" when no combination matches.
    """
    if got is None and exact_iaqi(text, column, standard, decimals) is None:
        return "beyond"
    for size in range(1, len(deviations) + 1):
        for combo in itertools.combinations(deviations, size):
            if exact_iaqi(text, column, standard ^ frozenset(combo), decimals) == got:
                return "+".join(combo)
    return "unexplained"


def ratio_to_faster(rate: float, peer_rates: Sequence[float]) -> float:
    """How many times `rate` (values/s) is the fastest of `peer_rates`."""
    return rate / max(peer_rates)


# --------------------------------------------------------------- worker (package virtualenv)


def _peak_rss_mib() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: a child's ru_maxrss keeps its parent's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_peers(job: dict[str, Any]) -> dict[str, Any]:
    """Time both packages over `job["items"]` ([pollutant, text] pairs), one call per value.

    Returns, per package: best seconds of `job["repeat"]` passes, the IAQI of each item and of
    each `job["vectors"]` item (None where the package raised), and the exceptions counted.
    """
    from importlib.metadata import version

    from aqi.algos import mep
    from aqi_hub.aqi_cn import cal_iaqi_cn

    peers: dict[str, tuple[Callable[[str, Any], Any], Callable[[str, str], tuple[str, Any]]]] = {
        # python-aqi takes the decimal string (its documented input), aqi-hub a float.
        "python-aqi": (mep.AQI().iaqi, lambda p, text: (POLLUTANTS[p][1], text)),
        "aqi-hub": (cal_iaqi_cn, lambda p, text: (POLLUTANTS[p][2], float(text))),
    }
    out: dict[str, Any] = {}
    for peer, (call, prepare) in peers.items():
        calls = [prepare(p, text) for p, text in job["items"]]
        best = math.inf
        errors: Counter[str] = Counter()
        for _ in range(job["repeat"]):
            results: list[Any] = []
            errors.clear()
            began = time.perf_counter()
            for name, value in calls:
                try:
                    results.append(call(name, value))
                except (IndexError, TypeError, ValueError) as error:
                    results.append(None)
                    errors[type(error).__name__] += 1
            best = min(best, time.perf_counter() - began)
        vectors: list[Any] = []
        for name, value in (prepare(p, text) for p, text in job["vectors"]):
            try:
                vectors.append(call(name, value))
            except (IndexError, TypeError, ValueError):
                vectors.append(None)
        out[peer] = {
            "version": version(peer), "seconds": best, "errors": dict(errors),
            "iaqi": [None if r is None else int(r) for r in results],
            "vectors": [None if r is None else int(r) for r in vectors],
        }
    out["peak_rss_mib"] = _peak_rss_mib()
    return out


# ---------------------------------------------------------------- caller (project virtualenv)


def ensure_venv(log: Callable[[str], None] = print) -> Path:
    """The package venv's python, creating the venv (or re-installing on changed pins) first."""
    python = PEER_VENV / "bin" / "python"
    stamp = PEER_VENV / _STAMP
    wanted = "\n".join(REQUIREMENTS) + "\n"
    if python.is_file() and stamp.is_file() and stamp.read_text() == wanted:
        return python
    base = getattr(sys, "_base_executable", None) or sys.executable
    log(f"creating {PEER_VENV} with {base} and installing {' '.join(REQUIREMENTS)}")
    subprocess.run([base, "-m", "venv", "--clear", str(PEER_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", *REQUIREMENTS], check=True)
    stamp.write_text(wanted)
    return python


def time_peers(items: list[tuple[str, str]], repeat: int) -> dict[str, Any]:
    """`run_peers` in the package venv, through a JSON file each way."""
    python = ensure_venv()
    job = {"items": items, "repeat": repeat,
           "vectors": [[indicator, text] for indicator, text, _, _ in VECTORS]}
    with tempfile.TemporaryDirectory() as scratch:
        job_path, out_path = Path(scratch) / "job.json", Path(scratch) / "out.json"
        job_path.write_text(json.dumps(job))
        subprocess.run([str(python), str(Path(__file__).resolve()), "peers", str(job_path),
                        str(out_path)], check=True)
        return json.loads(out_path.read_text())


def best_seconds(run: Callable[[], object], repeat: int) -> float:
    best = math.inf
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - began)
    return best


def make_window(n_values: int, seed: int) -> SeriesWindow:
    """Sources × `HOURS` hours of the six 1-hour indicators, ≥ `n_values` concentrations."""
    import numpy as np

    from analytics.series_window import SeriesWindow

    rng = np.random.default_rng(seed)
    n_sources = max(1, math.ceil(n_values / (len(POLLUTANTS) * HOURS)))
    times = np.datetime64(FIRST_HOUR_UTC, "s") + np.arange(HOURS) * np.timedelta64(3600, "s")
    values = {
        pollutant: np.round(rng.lognormal(math.log(median), sigma, (n_sources, HOURS)), decimals)
        for pollutant, (_, _, _, decimals, median, sigma) in POLLUTANTS.items()
    }
    return SeriesWindow(tuple(f"S{i:05d}" for i in range(n_sources)), times, values)


def draw_sample(window: SeriesWindow, size: int, seed: int) -> list[tuple[str, str]]:
    """A seeded sample of the window's values: (pollutant, decimal text as sent) pairs."""
    import numpy as np

    per_pollutant = len(window.sources) * len(window.times)
    total = per_pollutant * len(POLLUTANTS)
    picked = np.sort(np.random.default_rng(seed).choice(total, min(size, total), replace=False))
    names = list(POLLUTANTS)
    items = []
    for flat in picked.tolist():
        pollutant = names[flat // per_pollutant]
        value = window.values[pollutant].reshape(-1)[flat % per_pollutant]
        items.append((pollutant, f"{value:.{POLLUTANTS[pollutant][3]}f}"))
    return items


def lantian_iaqi(items: Sequence[tuple[str, str]], edition: int) -> list[float]:
    """Lantian's IAQI of each (pollutant, text) item under one edition (NaN = none)."""
    import numpy as np

    from analytics.aqi import compute_iaqi

    kinds = np.array([pollutant for pollutant, _ in items])
    conc = np.array([float(text) for _, text in items])
    got = np.full(len(items), np.nan)
    for pollutant, (indicator, *_) in POLLUTANTS.items():
        chosen = kinds == pollutant
        got[chosen] = compute_iaqi(conc[chosen], indicator, edition)
    return got.tolist()


def same_iaqi(ours: float, theirs: int | None) -> bool:
    """Whether two IAQIs agree; Lantian's NaN and a package's None both mean "no IAQI"."""
    return (theirs is None and math.isnan(ours)) or ours == theirs


def failed_vectors(got: Sequence[float | None], edition: int) -> list[str]:
    """The VECTORS rows `got` (one IAQI per row) misses under `edition`: "pm25 35.6: 50 ≠ 51"."""
    column = 2 if edition == 2012 else 3
    return [f"{row[0]} {row[1]}: {'none' if value is None else f'{value:g}'} ≠ {row[column]}"
            for row, value in zip(VECTORS, got, strict=True)
            if value is None or value != row[column]]


def tally_disagreements(items: Sequence[tuple[str, str]], ours: Sequence[float],
                        theirs: Sequence[int | None], peer: str, edition: int) -> Counter[str]:
    """Disagreements of `peer` with Lantian, counted by the deviations that explain them."""
    from analytics.hj633_tables import PREROUND_DECIMALS_2026, breakpoints

    standard = frozenset({"preround"}) if edition == 2026 else frozenset()
    reasons: Counter[str] = Counter()
    for (pollutant, text), mine, got in zip(items, ours, theirs, strict=True):
        if same_iaqi(mine, got):
            continue
        indicator = POLLUTANTS[pollutant][0]
        column = [float(bp) for bp in breakpoints(indicator, edition) if not math.isnan(bp)]
        reasons[explain(got, text, column, standard, PEER_DEVIATIONS[peer],
                        PREROUND_DECIMALS_2026[indicator])] += 1
    return reasons


def run_benchmark(n_values: int, n_sample: int, repeat: int, seed: int) -> dict[str, Any]:
    """Time Lantian and both packages, check the vectors, compare on the sample; print all."""
    import numpy as np

    from analytics.aqi import HOURLY_INDICATORS, compute_iaqi, hourly_aqi
    from analytics.standards_calendar import hj633_edition, local_dates

    window = make_window(n_values, seed)
    total = len(window.sources) * len(window.times) * len(POLLUTANTS)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def iaqi_only() -> None:
        by_date = hj633_edition(local_dates(window.times, TZ_NAME))
        for pollutant, indicator in HOURLY_INDICATORS.items():
            compute_iaqi(window.values[pollutant], indicator, by_date)

    lantian = {"compute_iaqi": best_seconds(iaqi_only, repeat),
               "hourly_aqi": best_seconds(lambda: hourly_aqi(window, TZ_NAME), repeat)}
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    items = draw_sample(window, n_sample, seed + 1)
    peers = time_peers(items, repeat)
    vectors: dict[str, list[str]] = {}
    agreement: dict[str, dict[str, Any]] = {}
    for peer, edition in (("python-aqi", 2012), ("aqi-hub", 2026)):
        ours = [compute_iaqi(np.array(float(text)), indicator, edition).item()
                for indicator, text, _, _ in VECTORS]
        vectors[f"Lantian {edition}"] = failed_vectors(ours, edition)
        vectors[f"{peer} {edition}"] = failed_vectors(peers[peer]["vectors"], edition)
        reasons = tally_disagreements(items, lantian_iaqi(items, edition),
                                      peers[peer]["iaqi"], peer, edition)
        agreement[peer] = {"edition": edition, "agree": len(items) - reasons.total(),
                           "disagreements": dict(reasons.most_common()),
                           "errors": peers[peer]["errors"]}

    rates = {name: total / seconds for name, seconds in lantian.items()}
    peer_rates = {peer: len(items) / peers[peer]["seconds"] for peer in PEER_DEVIATIONS}
    edition = hj633_edition(local_dates(window.times, TZ_NAME))
    figures = {
        "values": total, "sources": len(window.sources), "hours": len(window.times),
        "share_2026": round(float(np.mean(edition == 2026)), 3), "sample": len(items),
        "repeat": repeat, "seed": seed,
        "lantian_s": {k: round(v, 4) for k, v in lantian.items()},
        "lantian_values_per_s": {k: round(v) for k, v in rates.items()},
        "peer_versions": {p: peers[p]["version"] for p in PEER_DEVIATIONS},
        "peer_s": {p: round(peers[p]["seconds"], 4) for p in PEER_DEVIATIONS},
        "peer_values_per_s": {k: round(v) for k, v in peer_rates.items()},
        "peer_extrapolated_s": {p: round(total / r, 1) for p, r in peer_rates.items()},
        "ratio_to_faster_peer": {k: round(ratio_to_faster(v, list(peer_rates.values())), 1)
                                 for k, v in rates.items()},
        "target_ratio": TARGET_RATIO,
        "peak_rss_mib": {"lantian": round(rss_peak), "lantian_data_only": round(rss_before),
                         "peers": round(peers["peak_rss_mib"])},
        "vectors": len(VECTORS), "vectors_failed": vectors, "agreement": agreement,
    }
    print_report(figures)
    print(json.dumps(figures, ensure_ascii=False))
    return figures


def print_report(f: dict[str, Any]) -> None:
    """The human-readable table of `run_benchmark`'s figures."""
    print(f"HJ 633 real-time IAQI of {f['values']:,} concentrations (PM2.5, PM10, SO2, NO2, CO, "
          f"O3 1-h; {f['sources']:,} sources × {f['hours']:,} h; {f['share_2026']:.0%} of "
          f"hours under HJ 633-2026 by local date); packages on a seeded sample of "
          f"{f['sample']:,} of the same values; best of {f['repeat']}")
    print(f"{'implementation':<52}{'values':>12}{'seconds':>9}{'values/s':>13}"
          f"{'÷ faster pkg':>14}")
    for label, key in (("Lantian compute_iaqi: IAQI, edition by date", "compute_iaqi"),
                       ("Lantian hourly_aqi: IAQI + AQI, level, primary", "hourly_aqi")):
        print(f"{label:<52}{f['values']:>12,}{f['lantian_s'][key]:>9.3f}"
              f"{f['lantian_values_per_s'][key]:>13,}{f['ratio_to_faster_peer'][key]:>13.1f}×")
    for peer, what in (("python-aqi", "mep.AQI().iaqi, 2012"), ("aqi-hub", "cal_iaqi_cn, 2026")):
        label = f"{peer} {f['peer_versions'][peer]} {what}, per value"
        print(f"{label:<52}{f['sample']:>12,}{f['peer_s'][peer]:>9.3f}"
              f"{f['peer_values_per_s'][peer]:>13,}")
    print(f"target: Lantian ≥ {f['target_ratio']:.0f}× the faster package")
    extrapolated = ", ".join(f"{p} ≈ {s:,.0f} s" for p, s in f["peer_extrapolated_s"].items())
    print(f"packages extrapolated to {f['values']:,} values (linear, not measured): "
          f"{extrapolated}")
    rss = f["peak_rss_mib"]
    print(f"peak RSS: Lantian process {rss['lantian']:,} MiB ({rss['lantian_data_only']:,} MiB "
          f"holding the data before timing); package process {rss['peers']:,} MiB")
    print(f"HJ 633 test vectors (domain.md §10.1–10.2, PM2.5 and PM10, {f['vectors']} per "
          f"edition), passed:")
    for who, failed in f["vectors_failed"].items():
        misses = f"; misses {', '.join(failed)}" if failed else ""
        print(f"  {who}: {f['vectors'] - len(failed)}/{f['vectors']}{misses}")
    for peer, result in f["agreement"].items():
        raised = "".join(f", raised {name} ×{n}" for name, n in result["errors"].items())
        print(f"agreement with {peer} on the sample (Lantian under HJ 633-{result['edition']}):"
              f" {result['agree'] / f['sample']:.2%}{raised}; disagreements by cause:")
        for reason, count in result["disagreements"].items():
            meaning = "; ".join(EXPLANATIONS.get(part, part) for part in reason.split("+"))
            print(f"  {count:>7,} {count / f['sample']:>7.2%}  {reason}: {meaning}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="run", choices=("run", "setup", "peers"))
    parser.add_argument("paths", nargs="*", type=Path, help="peers: JOB OUT (worker use)")
    parser.add_argument("--values", type=int, default=10_000_000)
    parser.add_argument("--sample", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args(argv)
    if args.command == "setup":
        print(ensure_venv())
    elif args.command == "peers":
        job_path, out_path = args.paths
        out_path.write_text(json.dumps(run_peers(json.loads(job_path.read_text()))))
    else:
        run_benchmark(args.values, args.sample, args.repeat, args.seed)


if __name__ == "__main__":
    main()
