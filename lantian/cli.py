"""The `lantian` command: one subcommand per service, plus `run` for the whole local stack."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import orjson
import typer
from pydantic import ValidationError

from config.settings import Settings, get_settings
from lantian.user_cli import app as user_app
from simulators.cli import app as simulate_app

app = typer.Typer(help="Lantian 蓝天: air-quality monitoring, emergency response and data audit.",
                  no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(simulate_app, name="simulate",
              help="Simulate data sources: station readings (replay, synthetic) and CEMS units "
                   "speaking HJ 212 (cems).")


def load_settings() -> Settings:
    """Settings validated at start-up; a bad setting exits with a message naming it."""
    try:
        return get_settings()
    except (ValidationError, ValueError, FileNotFoundError) as exc:
        typer.echo(f"lantian: invalid configuration:\n{exc}", err=True)
        raise typer.Exit(2) from None


class JsonLogFormatter(logging.Formatter):
    """One JSON object a line, for a log collector: time (ISO 8601, UTC, ms), level, logger,
    message, and exc_info / stack_info as text when the record has them."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(
                     timespec="milliseconds").replace("+00:00", "Z"),
                 "level": record.levelname, "logger": record.name,
                 "message": record.getMessage()}
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


def setup_logging(verbose: bool = False, log_format: str = "text") -> None:
    """Service logs on stderr, as text for people or (settings `log_format: json`) as JSON
    lines; does nothing when logging is already configured."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter() if log_format == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
    logging.getLogger("httpx").setLevel(logging.WARNING)


@app.command("audit")
def audit(
    bundle: Annotated[Path, typer.Argument(help="audit bundle folder: sources.csv + "
                                                "readings.csv (formats.md §3)")],
    out: Annotated[Path, typer.Option("--out", help="findings as JSON lines")] = Path(
        "findings.jsonl"),
) -> None:
    """Run the falsification detectors over an exported audit bundle; write findings."""
    from rich.console import Console

    from ingest.audit_bundle import BundleError
    from lantian.bundle_audit import audit_command

    settings = load_settings()
    console = Console(stderr=True)
    try:
        audit_command(bundle, out, settings.falsification.detector_settings(),
                      settings.timezone, console)
    except BundleError as exc:
        typer.echo(f"lantian audit: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command("broker-auth")
def broker_auth(
    out: Annotated[Path, typer.Option(help="folder for the Mosquitto `passwd` and `acl` files")]
    = Path("var/broker-auth"),
    secrets_file: Annotated[Path, typer.Option(
        envvar="LANTIAN_MQTT__SECRETS_FILE",
        help="YAML username: password, outside the repository; created, and missing "
             "passwords added, keeping existing ones")] = Path("var/secrets/mqtt-passwords.yaml"),
) -> None:
    """Write Mosquitto password and ACL files: an account per station and outlet unit that may
    publish only its own topic, one per Lantian service. Prints the mosquitto.conf lines."""
    from lantian.broker_auth import write_broker_auth

    settings = load_settings()
    try:
        files = write_broker_auth(settings, secrets_file, out)
    except ValueError as exc:
        typer.echo(f"lantian broker-auth: {exc}", err=True)
        raise typer.Exit(2) from None
    kinds = [account.kind for account in files.accounts]
    typer.echo(f"{len(kinds)} accounts ({kinds.count('station')} stations, "
               f"{kinds.count('outlet')} outlets, {kinds.count('service')} services) → "
               f"{files.password_file}, {files.acl_file}; {len(files.new_passwords)} new "
               f"password(s) in {files.secrets_file}", err=True)
    if files.unused_secrets:
        typer.echo(f"not in the registers (no broker access): "
                   f"{', '.join(files.unused_secrets)}", err=True)
    typer.echo("mosquitto reads these files after dropping privileges: make them its own "
               "(Debian: sudo chown mosquitto: …). Add to mosquitto.conf:", err=True)
    typer.echo(files.mosquitto_conf(), nl=False)


@app.command("check-config")
def check_config() -> None:
    """Validate settings and the station and outlet registers, and print them."""
    from config.outlets import load_outlets
    from config.stations import load_stations
    from lantian.services import build_hj212_intake

    settings = load_settings()
    try:
        register = load_stations(settings.stations_file)
        outlets = load_outlets(settings.outlets_file)
        build_hj212_intake(settings)
    except ValueError as exc:
        typer.echo(f"lantian: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(settings.model_dump_json(indent=2))
    typer.echo(f"{len(register.stations)} stations in {settings.stations_file}")
    typer.echo(f"{len(outlets.outlets)} outlets of {len(outlets.enterprises())} enterprises "
               f"in {settings.outlets_file}")


@app.command()
def doctor() -> None:
    """Check settings, registers, broker, InfluxDB, ledger and spool with the real services;
    print what is wrong and how to fix it. Exit code 1 when any check fails."""
    from rich.console import Console

    from lantian.doctor import check_settings, render_results, run_checks

    settings_result, settings = check_settings(get_settings)
    results = [settings_result, *(run_checks(settings) if settings else [])]
    render_results(results, Console())
    raise typer.Exit(0 if all(result.ok for result in results) else 1)


@app.command()
def bench(
    cases: Annotated[str, typer.Option(help="comma-separated cases (default: all); "
                                            "see bench/suite.py")] = "",
    quick: Annotated[bool, typer.Option(help="small sizes: checks that every case runs")]
    = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the rows as JSON")]
    = None,
) -> None:
    """Benchmark the ingest pipeline against the ceilings of its parts measured in the same run
    (own Mosquitto and InfluxDB per case); prints a table. Needs a source checkout (bench/)."""
    checkout = Path(__file__).resolve().parents[1]
    if not (checkout / "bench" / "suite.py").is_file():
        typer.echo(f"lantian bench needs the source checkout's bench/ folder; {checkout} has "
                   "none (run it from a clone of the repository)", err=True)
        raise typer.Exit(2)
    if str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    from bench.suite import main as run_suite

    argv = ["--cases", cases] if cases else []
    argv += ["--quick"] if quick else []
    argv += ["--json", str(json_out)] if json_out else []
    run_suite(argv)


@app.command("replay-emergency")
def replay_emergency(
    start: Annotated[str, typer.Option(help="first local day shown (YYYY-MM-DD)")] = "2015-11-01",
    end: Annotated[str, typer.Option(help="local day after the last shown")] = "2016-01-01",
    city: str = "beijing",
    warmup_days: Annotated[int, typer.Option(help="days replayed before start to fit the "
                                                  "statistical forecast")] = 30,
    out: Annotated[Path, typer.Option(help="folder for the chart and page")] = Path("docs"),
    name: Annotated[str, typer.Option(help="file stem of chart and page")] = "emergency_replay",
    data: Annotated[Path | None, typer.Option(help="Beijing CSV (default ../shared/data)")]
    = None,
) -> None:
    """Replay the Beijing data through a private broker, InfluxDB and ledger; draw the alert
    periods the pipeline decides against the observed AQI (chart and Markdown in `out`)."""
    import tempfile
    from datetime import date

    from config.settings import EmergencySettings, InfluxSettings, LedgerSettings, MqttSettings
    from lantian.emergency_replay import replay_emergency as run_replay
    from lantian.local_services import start_influxdb, start_mosquitto
    from lantian.replay_report import draw_chart, write_markdown

    base = load_settings()
    setup_logging(log_format=base.log_format)
    with tempfile.TemporaryDirectory(prefix="lantian-replay-") as tmp:
        run_dir = Path(tmp)
        broker, influx = start_mosquitto(run_dir), start_influxdb(run_dir)
        try:
            settings = base.model_copy(update={
                "mqtt": MqttSettings(host=broker.host, port=broker.port),
                "influx": InfluxSettings(url=f"http://{influx.host}:{influx.port}",
                                         database="lantian_replay"),
                "ledger": LedgerSettings(url=f"sqlite:///{run_dir / 'ledger.db'}"),
                "emergency": EmergencySettings(**{**base.emergency.model_dump(),
                                                  "time_basis": "data"}),
            })
            result = run_replay(settings, date.fromisoformat(start), date.fromisoformat(end),
                                city=city, warmup_days=warmup_days, data_path=data)
        finally:
            influx.stop()
            broker.stop()
    chart = draw_chart(result, out / f"{name}.png", base.timezone)
    page = write_markdown(result, out / f"{name}.md", chart, base.timezone,
                          f"lantian replay-emergency --start {start} --end {end}")
    typer.echo(f"{result.readings} readings, {result.forecasts} forecasts, "
               f"{len(result.periods)} alert periods → {chart}, {page}")


@app.command("ledger-revision")
def ledger_revision(message: Annotated[str, typer.Argument(help="what the change does")]) -> None:
    """Write a new ledger migration from the difference between the models and the newest
    revision (developers: run after changing a table in alerts/ or ingest/)."""
    import tempfile

    from alembic import command

    from alerts.ledger_db import alembic_config, create_schema, make_engine

    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(f"sqlite:///{scratch}/head.db")
        create_schema(engine)
        with engine.begin() as connection:
            command.revision(alembic_config(connection), message=message, autogenerate=True)
        engine.dispose()


@app.command()
def collect() -> None:
    """Run the station collector: MQTT → validation → InfluxDB, dead letters to the ledger."""
    from lantian.services import run_collector

    settings = load_settings()
    setup_logging(log_format=settings.log_format)
    run_collector(settings)


@app.command()
def heartbeat(
    service: Annotated[str, typer.Option(
        help="collector: its counters in the ledger are recent and it is connected; "
             "analytics: its heartbeat file says a cycle finished recently")] = "collector",
) -> None:
    """Exit 0 when this service is alive and working, 1 with the reason otherwise (container
    health checks)."""
    from datetime import UTC, datetime

    from lantian.heartbeat import analytics_heartbeat, collector_heartbeat

    checks = {"collector": collector_heartbeat, "analytics": analytics_heartbeat}
    if service not in checks:
        raise typer.BadParameter(f"choose from {', '.join(checks)}", param_hint="--service")
    verdict = checks[service](load_settings(), datetime.now(UTC))
    typer.echo(verdict.detail, err=not verdict.ok)
    raise typer.Exit(0 if verdict.ok else 1)


@app.command("retire-collector")
def retire_collector(
    client_id: Annotated[str, typer.Argument(help="the collector.client_id of the member "
                                                   "leaving the group")],
    idle_s: Annotated[float, typer.Option(help="seconds without messages that count as "
                                               "drained")] = 5.0,
) -> None:
    """Take a collector out of its shared-subscription group for good: drain what the broker
    queued for it, then unsubscribe (run it after stopping that collector for the last time)."""
    from lantian.services import retire_collector as retire

    settings = load_settings()
    setup_logging(log_format=settings.log_format)
    if not settings.collector.shared_group:
        typer.echo("collector.shared_group is not set: there is no group to leave", err=True)
        raise typer.Exit(2)
    settings = settings.model_copy(update={"collector": settings.collector.model_copy(
        update={"client_id": client_id})})
    if not retire(settings, idle_s):
        typer.echo(f"{client_id} did not drain in time; run it again", err=True)
        raise typer.Exit(1)
    typer.echo(f"{client_id} drained and left group {settings.collector.shared_group}")


@app.command()
def analyze() -> None:
    """Run the analytics loop: AQI and exceedances from InfluxDB, cases into the ledger."""
    from lantian.services import run_analytics

    settings = load_settings()
    setup_logging(log_format=settings.log_format)
    run_analytics(settings)


@app.command()
def api(host: Annotated[str | None, typer.Option(help="default: settings api.host")] = None,
        port: Annotated[int | None, typer.Option(help="default: settings api.port")] = None
        ) -> None:
    """Serve the API and dashboard (OpenAPI docs at /docs)."""
    import uvicorn

    from api.main import create_app

    settings = load_settings()
    setup_logging(log_format=settings.log_format)
    # JSON logs: uvicorn's own loggers go through the root handler instead of its text format
    log_config = None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG
    uvicorn.run(create_app(settings), host=host or settings.api.host,
                port=port or settings.api.port, log_level="warning", log_config=log_config)


@app.command()
def run(
    run_dir: Annotated[Path, typer.Option(help="where the local services keep data and logs")]
    = Path("var/run"),
    replay_start: Annotated[str, typer.Option(help="first local day of Beijing data to replay")]
    = "2016-12-16",
    hours_per_second: Annotated[float, typer.Option(help="replay speed: data hours per second")]
    = 1.0,
    api_port: Annotated[int, typer.Option(help="API port (0: settings, or a free one)")] = 0,
) -> None:
    """Start everything locally: Mosquitto, InfluxDB, collector, analytics, API and the Beijing
    replay. Ctrl-C stops every process it started."""
    from lantian.stack import StackOptions, run_stack

    settings = load_settings()
    setup_logging(log_format=settings.log_format)
    code = run_stack(settings, StackOptions(run_dir=run_dir.resolve(), replay_start=replay_start,
                                            hours_per_second=hours_per_second,
                                            api_port=api_port))
    raise typer.Exit(code)
