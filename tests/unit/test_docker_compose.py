"""The compose deployment as Docker would read it, checked against the code without an engine.

`docker-compose config` (Debian's docker-compose package) renders docker-compose.yml with
.env.example, which validates it. Then: every service a bureau needs is there, each long-running
one with a health check and a restart policy, state on named volumes, simulators only in the
demo profile; every Lantian service runs a real `lantian` subcommand with LANTIAN_* variables
that are valid settings and a broker account that broker-auth writes with the same password;
the scale-out override stays consistent. Plus the broker-auth preflight and the Dockerfile.
"""

from __future__ import annotations

import importlib.util
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import click
import pytest
import yaml
from typer.main import get_command

from config.broker_accounts import HEALTH, service_accounts
from config.settings import Settings
from lantian.cli import app

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {"broker-auth", "mosquitto", "influxdb", "postgres", "collector", "analytics", "api"}
DEMO = {"simulator", "cems-simulator"}
STATE = {"mosquitto": {"mosquitto-data": "/mosquitto/data"},
         "influxdb": {"influxdb-data": "/var/lib/influxdb2", "influxdb-config": "/etc/influxdb2"},
         "postgres": {"postgres-data": "/var/lib/postgresql/data"},
         "collector": {"collector-spool": "/var/lib/lantian/spool"},
         "broker-auth": {"broker-auth": "/var/lib/lantian/broker-auth",
                         "broker-secrets": "/var/lib/lantian/secrets"}}
# differ between collector replicas on purpose (tests the rest does not drift)
REPLICA_KEYS = {"LANTIAN_GATEWAY__ENABLED", "LANTIAN_GATEWAY__HOST", "LANTIAN_GATEWAY__PORT"}


def load_preflight() -> ModuleType:
    path = ROOT / "deploy" / "broker-auth" / "preflight.py"
    spec = importlib.util.spec_from_file_location("deploy_broker_auth_preflight", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


preflight = load_preflight()


def require_tool(name: str, package: str) -> str:
    """The tool's path; missing fails under CI (scripts/install_system_deps.sh installs it)
    and skips locally."""
    path = shutil.which(name)
    if path is None:
        message = (f"{name} not found: install Debian's `{package}` package "
                   "(scripts/install_system_deps.sh does)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    pairs = [line.split("=", 1) for line in lines if line and not line.startswith("#")]
    return {key.strip(): value.strip() for key, value in pairs}


def render(*files: str, profile: str | None = None) -> dict[str, Any]:
    """`docker-compose config` with .env.example and nothing from this process's environment
    (which would override .env values)."""
    argv = [require_tool("docker-compose", "docker-compose"), "--env-file", ".env.example"]
    for name in files:
        argv += ["-f", name]
    if profile:
        argv += ["--profile", profile]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    done = subprocess.run([*argv, "config"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


@pytest.fixture(scope="module")
def production() -> dict[str, Any]:
    return render("docker-compose.yml")


@pytest.fixture(scope="module")
def demo() -> dict[str, Any]:
    return render("docker-compose.yml", profile="demo")


@pytest.fixture(scope="module")
def scaled() -> dict[str, Any]:
    return render("docker-compose.yml", "deploy/docker-compose.scale.yml")


def mounts(spec: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """container path → (source, named volume?) in either rendering (short or long syntax)."""
    found = {}
    for volume in spec.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
            found[target] = (source, not source.startswith("/"))
        else:
            found[volume["target"]] = (volume["source"], volume["type"] == "volume")
    return found


def published(spec: dict[str, Any]) -> set[int]:
    ports = spec.get("ports", [])
    return {int(p["target"]) if isinstance(p, dict) else int(p.split("/")[0].split(":")[-1])
            for p in ports}


def settings_of(spec: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings from the service's LANTIAN_* variables, container paths of bind mounts read
    from their sources here."""
    binds = {target: source for target, (source, named) in mounts(spec).items() if not named}
    with monkeypatch.context() as patch:
        for key in [k for k in os.environ if k.startswith("LANTIAN_")]:
            patch.delenv(key)
        for key, value in spec["environment"].items():
            if key.startswith("LANTIAN_"):
                for target, source in binds.items():
                    value = re.sub(f"^{re.escape(target)}(?=/|$)", source, str(value))
                patch.setenv(key, value)
        return Settings()


def test_production_services_have_health_checks_restarts_and_volumes(
        production: dict[str, Any]) -> None:
    services = production["services"]
    assert {name for name, spec in services.items() if not spec.get("profiles")} == PRODUCTION
    for name in PRODUCTION - {"broker-auth"}:
        test = services[name]["healthcheck"]["test"]
        assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, name
        assert services[name]["restart"] == "unless-stopped", name
    assert services["broker-auth"]["restart"] == "no"
    for name in ("mosquitto", "influxdb", "postgres"):
        assert services[name]["depends_on"]["broker-auth"] == {
            "condition": "service_completed_successfully"}
    for name in ("collector", "analytics", "api"):
        assert {store: dep["condition"] for store, dep in services[name]["depends_on"].items()
                } == dict.fromkeys(("mosquitto", "influxdb", "postgres"), "service_healthy")
    for name, volumes in STATE.items():
        found = mounts(services[name])
        for volume, target in volumes.items():
            assert found[target] == (volume, True), (name, target)
            assert volume in production["volumes"]
    assert mounts(services["mosquitto"])["/lantian/broker-auth"] == ("broker-auth", True)
    for spec in services.values():
        for target, (source, named) in mounts(spec).items():
            assert named or Path(source).exists() or target == "/data", source
    assert HEALTH in " ".join(services["mosquitto"]["healthcheck"]["test"])
    assert published(services["collector"]) == {9212}
    assert published(services["api"]) == {8000}


def test_simulators_run_only_in_the_demo_profile(demo: dict[str, Any]) -> None:
    services = demo["services"]
    assert set(services) == PRODUCTION | DEMO
    assert {name: spec.get("profiles") for name, spec in services.items()
            if spec.get("profiles")} == {name: ["demo"] for name in DEMO}


def run_lantian(spec: dict[str, Any]) -> list[str]:
    """The `lantian` argv a service runs; broker-auth's preflight ends in `lantian broker-auth`."""
    entrypoint = spec.get("entrypoint")
    if entrypoint is None:
        return list(spec["command"])
    assert entrypoint[0] == "python"
    script_dir, script = entrypoint[1].rsplit("/", 1)
    source, named = mounts(spec)[script_dir]
    assert not named and (Path(source) / script).samefile(ROOT / "deploy/broker-auth/preflight.py")
    assert spec["command"][0::2] == ["--out", "--secrets-file"]
    out, secrets_file = spec["command"][1], spec["command"][3]
    assert mounts(spec)[out] == ("broker-auth", True)
    assert mounts(spec)[str(Path(secrets_file).parent)] == ("broker-secrets", True)
    return ["broker-auth", *spec["command"]]


def test_lantian_services_run_lantian_commands_with_valid_settings(
        demo: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    example = env_example()
    lantian = {name: spec for name, spec in demo["services"].items()
               if spec["image"] == f"lantian:{example['LANTIAN_VERSION']}"}
    assert set(lantian) == {"broker-auth", "collector", "analytics", "api", *DEMO}
    passwords = {**preflight.SERVICE_PASSWORDS, **preflight.OPTIONAL_SERVICE_PASSWORDS}
    accounts = {account.username for account in service_accounts("lantian/v1")}
    for name, spec in lantian.items():
        command: click.Command = get_command(app)
        for word in run_lantian(spec):
            if not isinstance(command, click.Group):
                break
            assert word in command.commands, (name, word)
            command = command.commands[word]
        settings = settings_of(spec, monkeypatch)
        assert settings.log_format == "json", name
        assert settings.stations_file.is_file() and settings.outlets_file.is_file(), name
        if settings.mqtt.username is not None:
            assert settings.mqtt.username in accounts, name
            assert settings.mqtt.password is not None
            assert settings.mqtt.password.get_secret_value() == example.get(
                passwords[settings.mqtt.username], ""), name
        if name in ("collector", "analytics", "api"):
            assert settings.mqtt.host == "mosquitto" and settings.influx.url == "http://influxdb:8086"
            assert settings.influx.token is not None and not settings.influx.create_database
            assert settings.influx.token.get_secret_value() == example["INFLUXDB_TOKEN"]
            assert settings.ledger.url == ("postgresql+psycopg://lantian:"
                                           f"{example['POSTGRES_PASSWORD']}@postgres:5432/lantian")
    collector = settings_of(lantian["collector"], monkeypatch)
    assert str(collector.collector.spool_dir) in mounts(lantian["collector"])
    assert collector.gateway.host == "0.0.0.0" and collector.gateway.port == 9212
    assert collector.collector.shared_group == example["LANTIAN_COLLECTOR_GROUP"]
    assert settings_of(lantian["api"], monkeypatch).api.host == "0.0.0.0"


def test_influxdb_init_maps_lantian_database_to_the_bucket(production: dict[str, Any]) -> None:
    services = production["services"]
    influx = services["influxdb"]
    source, named = mounts(influx)["/docker-entrypoint-initdb.d"]
    scripts = sorted(Path(source).glob("*.sh"))
    assert not named and scripts, "the image runs executable *.sh files after setup"
    assert all(os.access(script, os.X_OK) for script in scripts)
    text = "".join(script.read_text(encoding="utf-8") for script in scripts)
    assert "influx v1 dbrp create" in text and "--default" in text
    env = influx["environment"]
    lantian_env = services["collector"]["environment"]
    assert env["LANTIAN_INFLUX_DATABASE"] == lantian_env["LANTIAN_INFLUX__DATABASE"]
    assert env["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"] == lantian_env["LANTIAN_INFLUX__TOKEN"]
    assert env["DOCKER_INFLUXDB_INIT_MODE"] == "setup"


def test_scale_override_keeps_collector_identities_and_shards_apart(
        scaled: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    services = scaled["services"]
    collectors = {n: s for n, s in services.items() if s.get("command") == ["collect"]}
    assert len(collectors) == 3
    ids, gateways = set(), []
    base = services["collector"]["environment"]
    for name, spec in collectors.items():
        settings = settings_of(spec, monkeypatch)
        ids.add(settings.collector.client_id.replace("{hostname}", spec["hostname"]))
        assert settings.collector.shared_group == base["LANTIAN_COLLECTOR__SHARED_GROUP"]
        assert mounts(spec)[str(settings.collector.spool_dir)] == ("collector-spool", True)
        assert "healthcheck" in spec and spec["restart"] == "unless-stopped"
        if settings.gateway.enabled:
            gateways.append(name)
        else:
            assert not published(spec), name
        differs = {k for k in {*base, *spec["environment"]} - REPLICA_KEYS
                   if base.get(k) != spec["environment"].get(k)}
        assert not differs, (name, differs)
    assert len(ids) == 3 and gateways == ["collector"]
    workers = [settings_of(s, monkeypatch).analytics for s in services.values()
               if s.get("command") == ["analyze"]]
    assert sorted(w.shard for w in workers) == list(range(workers[0].shards))
    assert {w.shards for w in workers} == {len(workers)} and len(workers) == 2


def test_preflight_refuses_placeholders_and_keeps_env_and_device_passwords(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    example = env_example()
    flagged = preflight.secret_problems(example)
    required = [*preflight.SERVICE_PASSWORDS.values(), *preflight.OTHER_SECRETS]
    assert len(flagged) == len(required) and all("placeholder" in p for p in flagged)
    good = {name: secrets.token_hex(24) for name in required}
    assert preflight.secret_problems(good) == []
    for bad in ("short", "pass word with spaces", "p@ss/word:with#url-chars"):
        assert len(preflight.secret_problems({**good, "POSTGRES_PASSWORD": bad})) == 1
    require_tool("mosquitto_passwd", "mosquitto")
    done = subprocess.run(
        [sys.executable, str(ROOT / "deploy/broker-auth/preflight.py"), "--out",
         str(tmp_path / "auth"), "--secrets-file", str(tmp_path / "s/secrets.yaml")],
        env={"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **good},
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    written = yaml.safe_load((tmp_path / "s/secrets.yaml").read_text(encoding="utf-8"))
    for account, variable in preflight.SERVICE_PASSWORDS.items():
        assert written[account] == good[variable]
    users = {line.split(":")[0]
             for line in (tmp_path / "auth/passwd").read_text(encoding="utf-8").splitlines()}
    assert set(written) == users and len(users) > len(preflight.SERVICE_PASSWORDS) + 1
    # the next start: .env wins for services, devices keep theirs, the simulator is revoked
    changed = {**good, preflight.SERVICE_PASSWORDS[HEALTH]: secrets.token_hex(24)}
    again = preflight.merge_service_passwords(written, changed)
    [simulator] = preflight.OPTIONAL_SERVICE_PASSWORDS
    assert again[HEALTH] == changed[preflight.SERVICE_PASSWORDS[HEALTH]]
    assert again[simulator] != written[simulator]
    assert {k: v for k, v in again.items() if k not in (HEALTH, simulator)} == {
        k: v for k, v in written.items() if k not in (HEALTH, simulator)}
    for name, value in example.items():
        monkeypatch.setenv(name, value)
    assert preflight.main(["--out", str(tmp_path), "--secrets-file", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists(), "nothing written with placeholder secrets"


def test_dockerfile_is_multi_stage_slim_non_root_with_one_entry_command() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    stages = re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]
    assert len(stages) >= 2
    final = stages[-1]
    user = re.findall(r"^USER (\S+)", final, flags=re.MULTILINE)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert re.search(r'^ENTRYPOINT \["lantian"\]$', final, flags=re.MULTILINE)
    installed = re.findall(r"apt-get install([^;&]*)", final)
    assert [line.replace("\\", " ").split()[-2:] for line in installed] == [
        ["mosquitto", "fonts-wqy-microhei"]]
    assert not re.search(r"\b(gcc|build-essential|/wheels)\b", final)
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".env", ".git", ".venv", "var", "tests"} <= set(ignored)


def test_influxdb1_overrides_log_every_worker_in_as_the_lantian_user(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """deploy/docker-compose.influxdb1.yml (and its scale-out companion): InfluxDB 1.6 from
    Debian, a `lantian` user whose password is INFLUXDB_TOKEN, and every Lantian worker, the
    scaled ones too, logging in with it instead of sending the 2.x token."""
    rendered = render("docker-compose.yml", "deploy/docker-compose.influxdb1.yml",
                      "deploy/docker-compose.scale.yml",
                      "deploy/docker-compose.scale.influxdb1.yml")
    services = rendered["services"]
    token = env_example()["INFLUXDB_TOKEN"]
    influx = services["influxdb"]
    assert influx["image"] == "lantian-debian/influxdb:1.6"
    assert influx["environment"]["INFLUXDB_USER"] == "lantian"
    assert influx["environment"]["INFLUXDB_USER_PASSWORD"] == token
    assert influx["environment"]["INFLUXDB_HTTP_AUTH_ENABLED"] == "true"
    # the data lands in the volume docker-compose.yml mounts
    data = mounts(influx)
    for key in ("INFLUXDB_META_DIR", "INFLUXDB_DATA_DIR", "INFLUXDB_DATA_WAL_DIR"):
        folder = influx["environment"][key]
        assert any(folder.startswith(t + "/") and named for t, (_, named) in data.items()), key
    workers = {n: s for n, s in services.items()
               if s.get("command") in (["collect"], ["analyze"], ["api"])}
    assert set(workers) == {"collector", "collector-2", "collector-3", "analytics",
                            "analytics-2", "api"}
    for name, spec in workers.items():
        settings = settings_of(spec, monkeypatch).influx
        assert settings.token is None, name
        assert settings.username == "lantian", name
        assert settings.password is not None and settings.password.get_secret_value() == token


def test_collectors_and_analytics_workers_are_checked_by_their_heartbeat(
        scaled: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a port poke: every collector's check reads its counters, every analytics worker's
    its heartbeat file, which the worker's settings make it write."""
    services = scaled["services"]
    checked = set()
    for name, spec in services.items():
        command = spec.get("command")
        if command == ["collect"]:
            assert spec["healthcheck"]["test"] == ["CMD", "lantian", "heartbeat"], name
        elif command == ["analyze"]:
            assert spec["healthcheck"]["test"] == ["CMD", "lantian", "heartbeat", "--service",
                                                   "analytics"], name
            heartbeat = settings_of(spec, monkeypatch).analytics.heartbeat_file
            assert heartbeat is not None and heartbeat.parent == Path("/var/lib/lantian"), name
        else:
            continue
        checked.add(name)
    assert checked == {"collector", "collector-2", "collector-3", "analytics", "analytics-2"}
