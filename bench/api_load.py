"""API benchmark: the station list (latest values of 5,000 stations) and one station's 30-day
series under concurrent load, against the InfluxDB queries those routes make, in the same run.

Starts its own Mosquitto, InfluxDB, SQLite ledger and the real API (`python -m lantian api`, one
uvicorn process, as deployed by `lantian run`), with a generated register of `--stations`
stations. InfluxDB gets, per station, its latest minute reading plus one hourly and one daily AQI
point (what GET /api/stations joins), and for one station 30 days of minute readings (43,200
points). Then, for each route and each concurrency level, `c` client threads (one keep-alive
httpx connection each) send requests back to back for `--duration` seconds:

* `latest`: GET /api/stations — 5,000 stations with latest reading, AQI and daily AQI;
* `series-raw`: GET /api/stations/{id}/series over the 30 days, raw minute points (limit 50,000);
* `series-hourly`: the same range as hourly means (every_s=3600, 720 points).

With `--rate R` the clients are paced instead: together they start R requests per second at
fixed times (each client every c/R s, staggered), as polling screens do; latency is counted from
each request's scheduled time, so a server that falls behind shows it in p99 rather than in a
lower rate (no coordinated omission). The API's latest-values cache (`api.latest_cache_s`, 30 s
by default; the station list is read from InfluxDB and encoded once per period) is set with
`--latest-cache-s` (0: every request reads InfluxDB, what the list costs without the cache).

Reported per run: requests/s achieved, p50/p99/max latency (ms), errors (any non-200 or
transport error; must be 0), MB/s of response body as sent (gzipped where the API gzips it;
clients send `Accept-Encoding: gzip` as browsers do), and CPU seconds per request of the API
process and of influxd (from /proc), which shows where the time goes. The baseline: the same
InfluxQL through `InfluxStore` in this process (three `latest_by_tag` calls; one `read_series`),
at concurrency 1, so the API's own overhead (routing, model building, JSON) is the difference.
`--py-spy EXE` samples the API process with py-spy during each route's run at the first
concurrency level and prints the frames in most samples (py-spy is not a project dependency;
e.g. `python3 -m venv /tmp/pyspy && /tmp/pyspy/bin/pip install py-spy`).

    .venv/bin/python bench/api_load.py [--stations 5000] [--levels 1,4,16] [--duration 6]
                                       [--routes latest,series-raw,series-hourly]
                                       [--latest-cache-s 30] [--rate 20]
                                       [--py-spy /tmp/pyspy/bin/py-spy]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import yaml

from alerts.analytics_loop import STATION_AQI_MEASUREMENT, STATION_DAILY_MEASUREMENT
from api.routes.stations import AQI_FIELDS, READING_FIELDS
from bench.proc_meter import cpu_seconds
from config.settings import InfluxSettings
from config.stations import POLLUTANTS
from ingest.influx_store import InfluxStore
from ingest.line_protocol import STATION_MEASUREMENT, format_point, reading_line
from ingest.station_payload import Reading
from lantian.local_services import (
    LocalService,
    free_port,
    start_influxdb,
    start_mosquitto,
    start_process,
    stop_process,
    wait_until,
)

END_S = 1_793_491_200  # 2026-11-01 00:00 UTC, a whole hour: the end of the loaded data
DAYS = 30
MINUTE_S = 60
BATCH_LINES = 5_000
SERIES_LIMIT = 50_000
SEED = 20261101
# Medians of a polluted winter minute (µg/m³; CO mg/m³), lognormal spread.
MEDIANS = {"pm25": 55.0, "pm10": 90.0, "so2": 9.0, "no2": 42.0, "o3": 50.0, "co": 0.9}
ROUTES = ("latest", "series-raw", "series-hourly")


# -- data ------------------------------------------------------------------------------------
def station_ids(n: int) -> list[str]:
    """`n` register ids; the first is the station with the 30-day series."""
    return [f"BENCH{i:05d}" for i in range(n)]


def station_register(ids: Sequence[str], seed: int = SEED) -> dict[str, object]:
    """A station register (config/stations.yaml shape) of minute-reporting stations."""
    rng = random.Random(seed)
    return {"stations": [
        {"id": sid, "name": f"Bench station {i}", "city": f"city{i % 50:02d}",
         "district": f"district{i % 7}", "lat": round(rng.uniform(18.0, 53.0), 5),
         "lon": round(rng.uniform(74.0, 134.0), 5), "interval_s": MINUTE_S}
        for i, sid in enumerate(ids)]}


def _values(rng: random.Random) -> dict[str, float]:
    return {p: round(m * rng.lognormvariate(0.0, 0.5), 2 if p == "co" else 1)
            for p, m in MEDIANS.items()}


def latest_lines(ids: Sequence[str], end_s: int, seed: int = SEED) -> list[str]:
    """Per station: its latest minute reading, hourly AQI and daily AQI (one point each)."""
    rng = random.Random(seed + 1)
    lines: list[str] = []
    for sid in ids:
        lines.append(reading_line(Reading(sid, end_s - MINUTE_S, _values(rng))))
        aqi = rng.randint(20, 300)
        level = 1 + min(5, aqi // 50)
        fields = {"aqi": float(aqi), "level": float(level), "primary": "pm25",
                  "edition": 2026.0}
        lines.append(format_point(STATION_AQI_MEASUREMENT, {"station": sid}, fields,
                                  end_s - 3600))
        lines.append(format_point(STATION_DAILY_MEASUREMENT, {"station": sid}, fields,
                                  end_s - 86400))
    return lines


def minute_lines(station: str, start_s: int, end_s: int, seed: int = SEED) -> Iterator[str]:
    """One station's minute readings over [start_s, end_s) (the series under test)."""
    rng = random.Random(seed + 2)
    for t in range(start_s, end_s, MINUTE_S):
        yield reading_line(Reading(station, t, _values(rng)))


def batches(lines: Iterator[str] | Sequence[str], size: int) -> Iterator[list[str]]:
    """Consecutive chunks of at most `size` lines."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# -- measuring -------------------------------------------------------------------------------
def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100]) of ascending values; NaN when empty."""
    if not 0 <= q <= 100:
        raise ValueError("q must be within [0, 100]")
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * q // 100))  # ceil(n q / 100), at least 1
    return float(sorted_values[int(rank) - 1])


@dataclass(frozen=True)
class LoadResult:
    """One route at one concurrency: rates, latency in ms, CPU seconds per request."""

    target: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    mb_per_s: float
    api_cpu_s_per_req: float | None = None
    influx_cpu_s_per_req: float | None = None
    error_kinds: dict[str, int] | None = None
    target_rps: float | None = None  # paced runs: the rate asked for; None: back to back


def summarize(target: str, concurrency: int, latencies_s: Sequence[float], errors: int,
              seconds: float, body_bytes: int, cpu: dict[str, float] | None = None,
              error_kinds: dict[str, int] | None = None,
              target_rps: float | None = None) -> LoadResult:
    """Rates and percentiles of one run; latencies of successful requests only."""
    ordered = sorted(latencies_s)
    done = len(ordered)
    cpu = cpu or {}

    def per_request(name: str) -> float | None:
        return round(cpu[name] / done, 4) if name in cpu and done else None

    return LoadResult(
        target=target, concurrency=concurrency, requests=done, errors=errors,
        seconds=round(seconds, 2), rps=round(done / seconds, 2) if seconds > 0 else 0.0,
        p50_ms=round(percentile(ordered, 50) * 1000, 1),
        p99_ms=round(percentile(ordered, 99) * 1000, 1),
        max_ms=round(ordered[-1] * 1000, 1) if ordered else float("nan"),
        mb_per_s=round(body_bytes / seconds / 1e6, 2) if seconds > 0 else 0.0,
        api_cpu_s_per_req=per_request("api"), influx_cpu_s_per_req=per_request("influx"),
        error_kinds=dict(error_kinds) if error_kinds else None, target_rps=target_rps,
    )


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident memory so far, MB (Linux /proc VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


Call = Callable[[], int]  # one request; returns the body size in bytes, raises on error


def error_kind(exc: Exception) -> str:
    """A short key grouping like failures: exception type and the message's start."""
    return f"{type(exc).__name__}: {str(exc)[:90]}"


def run_load(make_call: Callable[[], Call], concurrency: int, duration_s: float,
             rate_per_s: float | None = None) -> tuple[list[float], Counter[str], float, int]:
    """`concurrency` threads, each with its own call (connection), for `duration_s`: back to
    back, or with `rate_per_s` paced to that many requests per second in all (each thread every
    concurrency/rate s, staggered; latency from the scheduled start, so falling behind counts).
    Returns latencies (s) of successes, errors by kind, elapsed s, body bytes."""
    if rate_per_s is not None and rate_per_s <= 0:
        raise ValueError("rate_per_s must be positive")
    interval = concurrency / rate_per_s if rate_per_s else 0.0
    calls = [make_call() for _ in range(concurrency)]
    latencies: list[list[float]] = [[] for _ in calls]
    errors: list[Counter[str]] = [Counter() for _ in calls]
    sizes = [0] * concurrency
    start = threading.Barrier(concurrency + 1)
    deadline = [0.0]

    def worker(i: int) -> None:
        start.wait()
        mine = latencies[i]
        scheduled = deadline[0] - duration_s + i * interval / concurrency
        while time.perf_counter() < deadline[0]:
            if interval:
                wait = scheduled - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)  # pacing the load generator, not waiting for a result
                if scheduled >= deadline[0]:
                    break
                t0, scheduled = scheduled, scheduled + interval
            else:
                t0 = time.perf_counter()
            try:
                sizes[i] += calls[i]()
            except Exception as exc:  # every failure is counted, none may stop the run
                errors[i][error_kind(exc)] += 1
                continue
            mine.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    t_start = time.perf_counter()
    deadline[0] = t_start + duration_s
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - t_start
    return ([x for row in latencies for x in row], sum(errors, Counter()), elapsed, sum(sizes))


# -- the system under test -------------------------------------------------------------------
@dataclass
class Stack:
    broker: LocalService
    influx: LocalService
    api: subprocess.Popen[bytes]
    base_url: str
    token: str
    settings: InfluxSettings
    env: dict[str, str]


def api_environment(run_dir: Path, broker: LocalService, influx: LocalService,
                    stations_file: Path, api_port: int) -> dict[str, str]:
    """LANTIAN_* variables for the API child (as lantian.stack.child_environment sets them)."""
    env = dict(os.environ)
    env.update({
        "LANTIAN_MQTT__HOST": broker.host, "LANTIAN_MQTT__PORT": str(broker.port),
        "LANTIAN_INFLUX__URL": influx.url,
        "LANTIAN_LEDGER__URL": f"sqlite:///{run_dir / 'ledger.db'}",
        "LANTIAN_API__HOST": "127.0.0.1", "LANTIAN_API__PORT": str(api_port),
        "LANTIAN_STATIONS_FILE": str(stations_file),
        "LANTIAN_COLLECTOR__SPOOL_DIR": str(run_dir / "spool"),
        "PYTHONUNBUFFERED": "1",
    })
    return env


def admin_token(ledger_url: str) -> str:
    """A new admin user in the ledger and its bearer token."""
    from alerts.accounts import Accounts
    from alerts.ledger_db import create_schema, make_engine, make_session_factory

    engine = make_engine(ledger_url)
    create_schema(engine)
    accounts = Accounts(make_session_factory(engine))
    now = datetime.now(UTC)
    accounts.add_user("bench-admin", "admin", now)
    token = accounts.issue_token("bench-admin", now, "bench/api_load.py")
    engine.dispose()
    return token


def load_data(store: InfluxStore, ids: Sequence[str]) -> dict[str, float]:
    """Write the latest points of every station and the 30-day series; points and seconds."""
    store.ensure_database()
    t0 = time.perf_counter()
    latest = latest_lines(ids, END_S)
    for chunk in batches(latest, BATCH_LINES):
        store.write_lines(chunk)
    series = 0
    for chunk in batches(minute_lines(ids[0], END_S - DAYS * 86400, END_S), BATCH_LINES):
        store.write_lines(chunk)
        series += len(chunk)
    return {"latest_points": len(latest), "series_points": series,
            "load_s": round(time.perf_counter() - t0, 2)}


def start_stack(run_dir: Path, n_stations: int, latest_cache_s: float | None = None
                ) -> tuple[Stack, dict[str, float]]:
    ids = station_ids(n_stations)
    stations_file = run_dir / "stations.yaml"
    stations_file.write_text(yaml.safe_dump(station_register(ids), sort_keys=False),
                             encoding="utf-8")
    broker, influx = start_mosquitto(run_dir), start_influxdb(run_dir)
    settings = InfluxSettings(url=influx.url)
    store = InfluxStore(settings)
    try:
        loaded = load_data(store, ids)
    finally:
        store.close()
    port = free_port()
    env = api_environment(run_dir, broker, influx, stations_file, port)
    if latest_cache_s is not None:
        env["LANTIAN_API__LATEST_CACHE_S"] = str(latest_cache_s)
    token = admin_token(env["LANTIAN_LEDGER__URL"])
    proc = start_process([sys.executable, "-m", "lantian", "api", "--host", "127.0.0.1",
                          "--port", str(port)], run_dir / "api.log", env)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            return True
        try:
            return httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    if not wait_until(up, 60, 0.2) or proc.poll() is not None:
        raise RuntimeError(f"the API did not start; see {run_dir / 'api.log'}")
    return Stack(broker, influx, proc, base, token, settings, env), loaded


def route_params(route: str, station: str) -> tuple[str, dict[str, str]]:
    """Path and query of one benchmarked route (the series over the 30 loaded days)."""
    if route == "latest":
        return "/api/stations", {}
    span = {"start": datetime.fromtimestamp(END_S - DAYS * 86400, UTC).isoformat(),
            "end": datetime.fromtimestamp(END_S, UTC).isoformat()}
    if route == "series-raw":
        return f"/api/stations/{station}/series", {**span, "limit": str(SERIES_LIMIT)}
    if route == "series-hourly":
        return f"/api/stations/{station}/series", {**span, "every_s": "3600"}
    raise ValueError(f"unknown route {route!r}; choose from {ROUTES}")


def api_call(stack: Stack, route: str, station: str) -> Callable[[], Call]:
    path, params = route_params(route, station)
    headers = {"Authorization": f"Bearer {stack.token}"}

    def make() -> Call:
        client = httpx.Client(base_url=stack.base_url, headers=headers, timeout=120)

        def call() -> int:
            # Bytes as sent (gzipped when the API gzips): decoding is the client's work, and
            # on this shared machine it would take CPU from the server being measured.
            with client.stream("GET", path, params=params) as response:
                if response.status_code != 200:
                    response.read()
                    raise RuntimeError(f"{response.status_code}: {response.text[:200]}")
                return sum(len(chunk) for chunk in response.iter_raw())
        return call
    return make


def store_call(stack: Stack, route: str, station: str) -> Callable[[], Call]:
    """The InfluxQL the route runs, through InfluxStore (CSV parsed into pandas) in-process."""
    def make() -> Call:
        store = InfluxStore(stack.settings)
        if route == "latest":
            def call() -> int:
                for measurement, fields in ((STATION_MEASUREMENT, READING_FIELDS),
                                            (STATION_AQI_MEASUREMENT, AQI_FIELDS),
                                            (STATION_DAILY_MEASUREMENT, AQI_FIELDS)):
                    store.latest_by_tag(measurement, "station", fields)
                return 0  # bytes are the API's; the store's CSV size is not visible here
            return call
        every = 3600 if route == "series-hourly" else None

        def series() -> int:
            store.read_series(STATION_MEASUREMENT, "station", station, POLLUTANTS,
                              END_S - DAYS * 86400, END_S, every_s=every, limit=SERIES_LIMIT)
            return 0
        return series
    return make


def check_answers(stack: Stack, n_stations: int, station: str) -> dict[str, int]:
    """One request per route, checked for the expected counts before timing."""
    headers = {"Authorization": f"Bearer {stack.token}"}
    expected = {"latest": n_stations, "series-raw": DAYS * 1440, "series-hourly": DAYS * 24}
    counts = {}
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=120) as client:
        for route in ROUTES:
            path, params = route_params(route, station)
            response = client.get(path, params=params)
            response.raise_for_status()
            body = response.json()
            counts[route] = body["count"]
            if body["count"] != expected[route]:
                raise RuntimeError(f"{route}: {body['count']} items, expected {expected[route]}")
            if route == "latest" and sum(1 for s in body["data"] if s["latest"]) != n_stations:
                raise RuntimeError("latest: some stations have no latest reading")
    return counts


def measured(stack: Stack, target: str, make_call: Callable[[], Call], concurrency: int,
             duration_s: float, rate_per_s: float | None = None) -> LoadResult:
    pids = {"api": stack.api.pid, "influx": stack.influx.proc.pid}
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    latencies, errors, elapsed, size = run_load(make_call, concurrency, duration_s, rate_per_s)
    cpu = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
    return summarize(target, concurrency, latencies, errors.total(), elapsed, size, cpu, errors,
                     rate_per_s)


# Frames every request passes through (threads, event loop, CLI): they say nothing about cost.
PLUMBING = ("threading.py", "asyncio/", "anyio/", "typer/", "click/", "lantian/__main__.py",
            "uvicorn/", "concurrent/futures/")


def top_frames(collapsed: Sequence[str], n: int = 12, leaf: bool = False,
               skip: Sequence[str] = PLUMBING) -> list[tuple[str, float]]:
    """The `n` frames in most samples (share, 0–1) of py-spy's collapsed stacks ("frame;frame
    count" a line): inclusive (each frame once per stack) or, with `leaf`, self time only.
    Frames whose text contains one of `skip` are left out of the ranking, not of the total."""
    totals: dict[str, int] = {}
    samples = 0
    for line in collapsed:
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        frames = stack.split(";")
        for frame in ({frames[-1]} if leaf else set(frames)):
            if not any(part in frame for part in skip):
                totals[frame] = totals.get(frame, 0) + count
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:n]
    return [(frame, round(count / samples, 3)) for frame, count in ranked] if samples else []


def py_spy_record(py_spy: str, pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """Start sampling `pid` (all threads, idle ones left out) into collapsed stacks at `out`."""
    return subprocess.Popen(
        [py_spy, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
         "--format", "raw", "--output", str(out), "--rate", "200", "--nonblocking",
         "--function"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def format_table(rows: Sequence[LoadResult]) -> str:
    head = (f"{'target':<22}{'conc':>5}{'rate':>6}{'req':>7}{'err':>5}{'req/s':>9}{'p50 ms':>9}"
            f"{'p99 ms':>9}{'max ms':>9}{'MB/s':>7}{'api cpu/req':>12}{'influx cpu/req':>15}")
    lines = [head, "-" * len(head)]

    def cpu(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    for r in rows:
        rate = "-" if r.target_rps is None else f"{r.target_rps:g}"
        lines.append(f"{r.target:<22}{r.concurrency:>5}{rate:>6}{r.requests:>7}{r.errors:>5}"
                     f"{r.rps:>9.1f}{r.p50_ms:>9.1f}{r.p99_ms:>9.1f}{r.max_ms:>9.1f}"
                     f"{r.mb_per_s:>7.1f}{cpu(r.api_cpu_s_per_req):>12}"
                     f"{cpu(r.influx_cpu_s_per_req):>15}")
    return "\n".join(lines)


def parse_levels(text: str) -> list[int]:
    """'1,8,32' → [1, 8, 32]; each level at least 1."""
    levels = [int(part) for part in text.split(",") if part.strip()]
    if not levels or min(levels) < 1:
        raise ValueError(f"concurrency levels must be positive integers, got {text!r}")
    return levels


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=5000)
    parser.add_argument("--levels", default="1,4,16", help="concurrent clients, comma-separated")
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per run")
    parser.add_argument("--routes", default=",".join(ROUTES))
    parser.add_argument("--latest-cache-s", dest="latest_cache_s", type=float, default=None,
                        help="the API's api.latest_cache_s (default: its configured 30 s; "
                             "0 reads InfluxDB per request)")
    parser.add_argument("--rate", type=float, default=None,
                        help="pace each API run at this many requests/s in all (default: "
                             "back to back)")
    parser.add_argument("--py-spy", dest="py_spy", default=None,
                        help="py-spy executable: profile the API at the first level")
    args = parser.parse_args(argv)
    levels = parse_levels(args.levels)
    routes = [r for r in args.routes.split(",") if r]
    for route in routes:
        route_params(route, "x")  # unknown names fail before anything starts
    with tempfile.TemporaryDirectory(prefix="lantian-api-bench-") as scratch:
        run_dir = Path(scratch)
        stack, loaded = start_stack(run_dir, args.stations, args.latest_cache_s)
        station = station_ids(1)[0]
        try:
            counts = check_answers(stack, args.stations, station)
            rows: list[LoadResult] = []
            profiles: dict[str, list[tuple[str, float]]] = {}
            for route in routes:
                rows.append(measured(stack, f"influx {route}", store_call(stack, route, station),
                                     1, args.duration))
                print(format_table(rows[-1:]).splitlines()[-1], flush=True)
                for level in levels:
                    sampler = None
                    if args.py_spy and level == levels[0]:
                        sampler = py_spy_record(args.py_spy, stack.api.pid, args.duration,
                                                run_dir / f"{route}.folded")
                    rows.append(measured(stack, f"api {route}", api_call(stack, route, station),
                                         level, args.duration, args.rate))
                    print(format_table(rows[-1:]).splitlines()[-1], flush=True)
                    if sampler is not None:
                        sampler.wait(timeout=60)
                        folded = run_dir / f"{route}.folded"
                        stacks = folded.read_text().splitlines() if folded.exists() else []
                        profiles[f"{route} at {level}, inclusive"] = top_frames(stacks)
                        profiles[f"{route} at {level}, self"] = top_frames(stacks, 8, leaf=True)
            memory = {"api_peak_rss_mb": peak_rss_mb(stack.api.pid),
                      "influxd_peak_rss_mb": peak_rss_mb(stack.influx.proc.pid)}
        finally:
            stop_process(stack.api)
            stack.influx.stop()
            stack.broker.stop()
    print()
    print(format_table(rows))
    for r in rows:
        for kind, count in (r.error_kinds or {}).items():
            print(f"errors, {r.target} at {r.concurrency}: {count} × {kind}")
    for name, frames in profiles.items():
        print(f"\npy-spy, API process, {name} (share of samples):")
        for frame, share in frames:
            print(f"  {share:6.1%}  {frame}")
    result = {"stations": args.stations, "series_days": DAYS, "loaded": loaded,
              "latest_cache_s": args.latest_cache_s, "rate_per_s": args.rate,
              "checked_counts": counts, "duration_s": args.duration, "cpus": os.cpu_count(),
              **memory,
              "results": [asdict(r) for r in rows], "profiles": profiles}
    print(json.dumps(result, indent=1))
    return 1 if any(r.errors for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
