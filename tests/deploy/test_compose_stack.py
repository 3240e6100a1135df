"""The docker-compose deployment, built and run on a real Docker Engine (`make test-deploy`).

Images from Debian packages (deploy/debian-images/build.sh) and the Lantian image built by
docker-compose from carried wheels, as on a host without Docker Hub or the package index;
InfluxDB 1.6 through deploy/docker-compose.influxdb1.yml, as Debian has no 2.x. The demo
profile replays the Beijing data over MQTT and the CEMS units over the HJ 212 TCP gateway.
Checked: every service healthy, `lantian doctor` green inside and naming each fault, demo data
reaching the API, the broker refusing strangers, JSON logs, metrics, state kept across
`down`/`up`, backup and restore onto a fresh stack as docs/deploy.md gives them, and the
scale-out override's extra collectors and analytics worker taking part.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.compose_stack import REPO, ComposeStack, prepare_images, run

from lantian.local_services import wait_until

pytestmark = pytest.mark.deploy

PRODUCTION = ("mosquitto", "influxdb", "postgres", "collector", "analytics", "api")
SCALE_FILES = (*ComposeStack.files, "deploy/docker-compose.scale.yml",
               "deploy/docker-compose.scale.influxdb1.yml")
ARTIFACTS = Path(os.environ.get("LANTIAN_ARTIFACTS_DIR", REPO / "test-artifacts")) / "deploy"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, beijing_data: Path) -> Iterator[ComposeStack]:
    for tool in ("docker-compose", "mosquitto_sub"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} not found: run `make install` first")
    prepare_images()
    stack = ComposeStack.create(tmp_path_factory.mktemp("compose"),
                                f"lantian-deploytest-{os.getpid()}", beijing_data.parent)
    # through the compose file's own build section: LANTIAN_PYTHON_IMAGE, LANTIAN_WHEELHOUSE
    stack.dc("build", "broker-auth", timeout_s=900)
    try:
        up = stack.dc("up", "-d", "--no-build", check=False)
        assert up.returncode == 0, f"up failed:\n{up.stderr[-3000:]}\n{stack.states()}"
        yield stack
    finally:
        print(f"compose logs: {stack.save_logs(ARTIFACTS)}")
        stack.dc("down", "-v", "--remove-orphans", "--timeout", "30", check=False,
                 files=SCALE_FILES)


@pytest.fixture(scope="module")
def api(stack: ComposeStack) -> Iterator[httpx.Client]:
    stack.wait_healthy(PRODUCTION)
    made = stack.dc("exec", "-T", "api", "lantian", "user", "add", "deploy-admin",
                    "--role", "admin")
    token = made.stdout.strip().splitlines()[-1].strip()
    assert token.startswith("lt_"), made.stdout
    base = f"http://127.0.0.1:{stack.ports['LANTIAN_API_PORT']}"
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"},
                      timeout=30) as client:
        yield client


def test_every_service_becomes_healthy(stack: ComposeStack) -> None:
    states = stack.wait_healthy(PRODUCTION)
    assert states["broker-auth"][0] == "exited 0", states
    assert states["simulator"][0] == "running" and states["cems-simulator"][0] == "running"


def test_doctor_is_green_inside_the_stack(stack: ComposeStack, api: httpx.Client) -> None:
    done = stack.dc("exec", "-T", "-e", "COLUMNS=200", "api", "lantian", "doctor")
    assert "all checks passed" in done.stdout, done.stdout
    assert "InfluxDB 1.6" in done.stdout and "schema current" in done.stdout, done.stdout


@pytest.mark.parametrize(("setting", "value", "expected"), [
    ("LANTIAN_MQTT__HOST", "no-such-broker", ("LANTIAN_MQTT__HOST", "LANTIAN_MQTT__PORT")),
    ("LANTIAN_INFLUX__PASSWORD", "wrong-password", ("wrong password", "LANTIAN_INFLUX__PASSWORD")),
    ("LANTIAN_LEDGER__URL", "postgresql+psycopg://lantian:hunter2@postgres:5433/lantian",
     ("unreachable", "LANTIAN_LEDGER__URL")),
], ids=["wrong broker address", "wrong InfluxDB password", "unreachable ledger"])
def test_doctor_names_what_is_wrong(stack: ComposeStack, api: httpx.Client, setting: str,
                                    value: str, expected: tuple[str, ...]) -> None:
    done = stack.dc("run", "--rm", "--no-deps", "-T", "-e", "COLUMNS=200", "-e",
                    f"{setting}={value}", "api", "doctor", check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "1 check(s) failed" in output and "hunter2" not in output, output
    for text in expected:
        assert text in output, output


def test_demo_data_reaches_the_api(api: httpx.Client) -> None:
    health = api.get("/api/health").json()
    assert health["status"] == "ok" and health["influxdb"]["detail"].startswith("InfluxDB 1.6")

    def latest(path: str) -> list[Any]:
        return [item["latest"] for item in api.get(path).json()["data"]]

    # the replay over MQTT (one hour of data a second), the CEMS units over TCP
    assert wait_until(lambda: all(latest("/api/stations")), 120, 2), latest("/api/stations")
    assert wait_until(lambda: all(latest("/api/outlets")), 120, 2), latest("/api/outlets")
    assert len(latest("/api/stations")) == 12 and len(latest("/api/outlets")) == 6
    metrics = api.get("/metrics")
    assert metrics.status_code == 200, metrics.text
    assert 'lantian_ingest_readings_total{collector="lantian-collector",outcome="written"}' \
        in metrics.text


def test_the_image_draws_chinese_evidence_charts(stack: ComposeStack, api: httpx.Client) -> None:
    """The Lantian image has a CJK font that matplotlib finds (api/evidence_chart.py)."""
    fonts = stack.dc("exec", "-T", "api", "python", "-c",
                     "from api.evidence_chart import FONTS; print(FONTS)").stdout
    assert "WenQuanYi Micro Hei" in fonts, fonts


def test_the_broker_refuses_strangers(stack: ComposeStack, api: httpx.Client) -> None:
    def subscribe(*credentials: str) -> int:
        argv = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(stack.ports["MQTT_PORT"]),
                "-t", "$SYS/broker/uptime", "-E", "-W", "5", *credentials]
        return subprocess.run(argv, capture_output=True, timeout=20, check=False).returncode

    assert subscribe("-u", "lantian-health", "-P", stack.secrets["MQTT_HEALTH_PASSWORD"]) == 0
    assert subscribe() != 0
    assert subscribe("-u", "lantian-health", "-P", "wrong") != 0


def test_services_log_json(stack: ComposeStack, api: httpx.Client) -> None:
    for service in ("collector", "analytics", "api"):
        lines = [line.split("|", 1)[1].strip() for line in stack.logs(service).splitlines()
                 if "|" in line]
        records = [json.loads(line) for line in lines if line.startswith("{")]
        assert records and len(records) == len([x for x in lines if x]), (service, lines[:5])
        assert {"time", "level", "logger", "message"} <= records[0].keys()


def count_station_readings(stack: ComposeStack) -> int:
    query = stack.dc("exec", "-T", "influxdb", "sh", "-c",
                     "curl -sf -u \"lantian:$INFLUXDB_USER_PASSWORD\" "
                     "'http://127.0.0.1:8086/query?db=lantian' "
                     "--data-urlencode 'q=SELECT count(pm25) FROM station_reading'")
    series = json.loads(query.stdout)["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def test_state_survives_down_and_up(stack: ComposeStack, api: httpx.Client) -> None:
    assert wait_until(lambda: count_station_readings(stack) > 0, 60, 2)
    stack.dc("stop", "simulator", "cems-simulator")
    counts: list[int] = []

    def settled() -> bool:  # what the collector still held has reached InfluxDB
        counts.append(count_station_readings(stack))
        return len(counts) > 1 and counts[-1] == counts[-2]

    assert wait_until(settled, 60, 3)
    before = counts[-1]
    stack.dc("down", "--timeout", "30")  # containers gone, named volumes kept
    assert stack.states() == {}
    stack.dc("up", "-d", "--no-build", "mosquitto", "influxdb", "postgres", "api")
    stack.wait_healthy(("mosquitto", "influxdb", "postgres", "api"))
    assert count_station_readings(stack) == before
    assert api.get("/api/me").json()["name"] == "deploy-admin"  # the ledger kept the user


def influx_as_admin(stack: ComposeStack, statement: str) -> dict[str, Any]:
    done = stack.dc("exec", "-T", "influxdb", "sh", "-c",
                    "curl -sf -u \"$INFLUXDB_ADMIN_USER:$INFLUXDB_ADMIN_PASSWORD\" "
                    "http://127.0.0.1:8086/query --data-urlencode \"q=$0\"", statement)
    result: dict[str, Any] = json.loads(done.stdout)["results"][0]
    assert "error" not in result, result
    return result


def test_backup_and_restore_onto_a_fresh_stack(stack: ComposeStack, api: httpx.Client,
                                               tmp_path: Path) -> None:
    """docs/deploy.md section 7, command for command: back up the ledger, InfluxDB 1.x and the
    broker secrets, lose every volume, restore onto a fresh stack."""
    readings = count_station_readings(stack)
    assert readings > 0
    secrets_before = stack.dc("run", "--rm", "--no-deps", "-T", "--entrypoint", "cat",
                              "broker-auth", "/var/lib/lantian/secrets/mqtt-passwords.yaml").stdout
    ledger, secrets, influx = (tmp_path / "ledger.dump", tmp_path / "broker-secrets.tgz",
                               tmp_path / "influx")
    stack.dc_to_file(ledger, "exec", "-T", "postgres", "pg_dump", "-U", "lantian", "-d",
                     "lantian", "--format=custom")
    stack.dc_to_file(secrets, "run", "--rm", "--no-deps", "-T", "--entrypoint", "tar",
                     "broker-auth", "czf", "-", "-C", "/var/lib/lantian/secrets", ".")
    stack.dc("exec", "-T", "influxdb", "influxd", "backup", "-portable", "-db", "lantian",
             "/tmp/influx-backup")
    run(["docker", "cp", f"{stack.container('influxdb')}:/tmp/influx-backup", str(influx)])

    stack.dc("down", "-v", "--timeout", "30")  # the disaster: every volume gone
    stack.dc_from_file(secrets, "run", "--rm", "--no-deps", "-T", "--entrypoint", "tar",
                       "broker-auth", "xzf", "-", "-C", "/var/lib/lantian/secrets")
    stack.dc("up", "-d", "--no-build", *PRODUCTION)
    stack.wait_healthy(PRODUCTION)
    assert api.get("/api/me").status_code == 401  # a new, empty ledger

    stack.dc("stop", "collector", "analytics", "api")
    stack.dc_from_file(ledger, "exec", "-T", "postgres", "pg_restore", "-U", "lantian", "-d",
                       "lantian", "--clean", "--if-exists", "--no-owner")
    influx_as_admin(stack, 'DROP DATABASE "lantian"')
    run(["docker", "cp", str(influx), f"{stack.container('influxdb')}:/tmp/influx-restore"])
    # docker cp makes the copy root's, mode 0700: only root can read it
    stack.dc("exec", "-T", "-u", "root", "influxdb", "influxd", "restore", "-portable", "-db",
             "lantian", "/tmp/influx-restore")
    influx_as_admin(stack, 'GRANT ALL ON "lantian" TO "lantian"')
    stack.dc("start", "collector", "analytics", "api")
    stack.wait_healthy(PRODUCTION)

    assert api.get("/api/me").json()["name"] == "deploy-admin"
    assert count_station_readings(stack) == readings
    secrets_after = stack.dc("run", "--rm", "--no-deps", "-T", "--entrypoint", "cat",
                             "broker-auth", "/var/lib/lantian/secrets/mqtt-passwords.yaml").stdout
    assert secrets_after == secrets_before  # every device keeps its password
    done = stack.dc("exec", "-T", "-e", "COLUMNS=200", "api", "lantian", "doctor")
    assert "all checks passed" in done.stdout, done.stdout


def test_scale_out_override_adds_collectors_and_an_analytics_worker(
        stack: ComposeStack, api: httpx.Client) -> None:
    stack.dc("up", "-d", "--no-build", files=SCALE_FILES)
    stack.wait_healthy((*PRODUCTION, "collector-2", "collector-3", "analytics-2"))
    for worker, shard in (("analytics", "0/2"), ("analytics-2", "1/2")):
        said = stack.dc("exec", "-T", worker, "sh", "-c",
                        "echo $LANTIAN_ANALYTICS__SHARD/$LANTIAN_ANALYTICS__SHARDS",
                        files=SCALE_FILES).stdout
        assert said.strip() == shard, (worker, said)
    # every worker, the extra ones too, reaches InfluxDB with its credentials
    for worker in ("collector-2", "collector-3", "analytics-2"):
        done = stack.dc("exec", "-T", "-e", "COLUMNS=200", worker, "lantian", "doctor",
                        files=SCALE_FILES, check=False)
        assert "all checks passed" in done.stdout, (worker, done.stdout)

    def receiving() -> dict[str, int]:
        rows = api.get("/api/ingest").json()["data"]
        return {row["collector_id"]: row["received"] for row in rows}

    # the shared subscription gives each collector a share of the replay
    wanted = {"lantian-collector", "lantian-collector-2", "lantian-collector-3"}
    assert wait_until(lambda: wanted <= {c for c, n in receiving().items() if n > 0}, 120, 2), \
        receiving()
