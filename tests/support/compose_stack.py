"""The docker-compose deployment run for real, for tests/deploy: an env file made from
.env.example, `docker-compose` with the project's files, health polling and logs.

The images come from Debian packages (deploy/debian-images/build.sh), so this runs on a Docker
host that cannot pull from Docker Hub; InfluxDB is then 1.6 (deploy/docker-compose.influxdb1.yml).
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lantian.local_services import free_port

REPO = Path(__file__).resolve().parents[2]
SECRETS = ("MQTT_COLLECTOR_PASSWORD", "MQTT_ANALYTICS_PASSWORD", "MQTT_HEALTH_PASSWORD",
           "MQTT_SIMULATOR_PASSWORD", "INFLUXDB_ADMIN_PASSWORD", "INFLUXDB_TOKEN",
           "POSTGRES_PASSWORD")
DEBIAN_IMAGES = {"MOSQUITTO_IMAGE": "lantian-debian/mosquitto:2",
                 "POSTGRES_IMAGE": "lantian-debian/postgres:15",
                 "LANTIAN_PYTHON_IMAGE": "lantian-debian/python:3.11",
                 "LANTIAN_WHEELHOUSE": "wheelhouse"}
BASE_FILES = ("docker-compose.yml", "deploy/docker-compose.influxdb1.yml")


def run(argv: Sequence[str], timeout_s: float = 600, check: bool = True,
        cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """`argv` with its output kept; a failure raises with the output in the message."""
    done = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True,
                          timeout=timeout_s, stdin=subprocess.DEVNULL, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {done.returncode}:\n"
                             f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done


def prepare_images() -> None:
    """A Docker Engine, the Debian-built images, and the wheels the Lantian image installs."""
    run(["bash", "scripts/docker_engine.sh"], timeout_s=300)
    run(["bash", "deploy/debian-images/build.sh"], timeout_s=900)
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", "wheelhouse", ".",
         "setuptools>=68", "wheel"], timeout_s=600)


def env_from_example(overrides: dict[str, str]) -> str:
    """.env.example with `overrides` put in place of its values (every key must exist)."""
    lines, left = [], dict(overrides)
    for line in (REPO / ".env.example").read_text(encoding="utf-8").splitlines():
        key = line.split("=", 1)[0] if "=" in line and not line.startswith("#") else None
        if key is not None and key in left:
            line = f"{key}={left.pop(key)}"
        lines.append(line)
    if left:
        raise KeyError(f"not in .env.example: {sorted(left)}")
    return "\n".join(lines) + "\n"


@dataclass
class ComposeStack:
    """One compose project: its env file, its published ports and the compose files used."""

    project: str
    env_file: Path
    ports: dict[str, int]
    secrets: dict[str, str]
    files: tuple[str, ...] = BASE_FILES
    docker_compose: str = field(default_factory=lambda: shutil.which("docker-compose") or "")

    @classmethod
    def create(cls, workdir: Path, project: str, demo_data: Path) -> ComposeStack:
        chosen = {name: secrets.token_hex(24) for name in SECRETS}
        ports = {"MQTT_PORT": free_port(), "INFLUXDB_PORT": free_port(),
                 "LANTIAN_API_PORT": free_port(), "LANTIAN_GATEWAY_PORT": free_port()}
        env = {**chosen, **{k: str(v) for k, v in ports.items()}, **DEBIAN_IMAGES,
               "COMPOSE_PROJECT_NAME": project, "LANTIAN_VERSION": "deploy-test",
               "LANTIAN_DEMO_DATA": str(demo_data)}
        env_file = workdir / "env"
        env_file.write_text(env_from_example(env), encoding="utf-8")
        env_file.chmod(0o600)
        return cls(project, env_file, ports, chosen)

    def argv(self, *args: str, files: Sequence[str] | None = None) -> list[str]:
        """The docker-compose command line for this project (demo profile included)."""
        argv = [self.docker_compose, "--env-file", str(self.env_file)]
        for name in files or self.files:
            argv += ["-f", name]
        return [*argv, "--profile", "demo", *args]

    def dc(self, *args: str, timeout_s: float = 600, check: bool = True,
           files: Sequence[str] | None = None) -> subprocess.CompletedProcess[str]:
        return run(self.argv(*args, files=files), timeout_s=timeout_s, check=check)

    def dc_to_file(self, path: Path, *args: str) -> None:
        """docker-compose with its standard output (binary: a dump, a tar) into `path`."""
        with path.open("wb") as out:
            done = subprocess.run(self.argv(*args), cwd=REPO, stdout=out,
                                  stderr=subprocess.PIPE, timeout=300, check=False)
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]

    def dc_from_file(self, path: Path, *args: str) -> None:
        """docker-compose reading `path` on its standard input (a restore)."""
        with path.open("rb") as source:
            done = subprocess.run(self.argv(*args), cwd=REPO, stdin=source,
                                  capture_output=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]

    def container(self, service: str) -> str:
        return self.dc("ps", "-q", service).stdout.strip()

    def states(self) -> dict[str, tuple[str, str]]:
        """service → (container state, health: healthy/unhealthy/starting or '')."""
        ids = run(["docker", "ps", "-aq", "--filter",
                   f"label=com.docker.compose.project={self.project}"]).stdout.split()
        if not ids:
            return {}
        fmt = ('{{index .Config.Labels "com.docker.compose.service"}}|{{.State.Status}}|'
               '{{if .State.Health}}{{.State.Health.Status}}{{end}}|{{.State.ExitCode}}')
        out = run(["docker", "inspect", "--format", fmt, *ids]).stdout
        states = {}
        for line in out.splitlines():
            service, status, health, code = line.split("|")
            states[service] = (status if status != "exited" else f"exited {code}", health)
        return states

    def wait_healthy(self, services: Sequence[str], timeout_s: float = 300) -> dict[str,
                                                                                   tuple[str, str]]:
        """Until every one of `services` is running and healthy; the last states on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            states = self.states()
            if all(states.get(s) == ("running", "healthy") for s in services):
                return states
            if time.monotonic() > deadline:
                raise AssertionError(f"not healthy within {timeout_s:.0f} s: {states}")
            time.sleep(2)  # docker's own health checks run every 30 s; polling is cheap

    def logs(self, service: str | None = None) -> str:
        args = ["logs", "--no-color"] + ([service] if service else [])
        return self.dc(*args, check=False, timeout_s=120).stdout

    def save_logs(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.project}.log"
        path.write_text(self.logs() + "\n" + json.dumps(self.states(), indent=1),
                        encoding="utf-8")
        return path
