"""The compose stack's first step: refuse placeholder secrets, then write the broker accounts.

docker-compose runs this once per `up` (service `broker-auth`, Lantian image) before anything
else starts. It

1. checks the secrets `.env` supplies: set, not the `.env.example` placeholders, at least
   `MIN_SECRET_CHARS` long, without whitespace; the PostgreSQL password also URL-safe, as it
   goes into the ledger URL. A stack started with a placeholder would keep it: InfluxDB's
   token and PostgreSQL's password are fixed by their first start;
2. writes the Lantian services' MQTT passwords from `.env` into the secrets file, so the broker
   and the services (which get theirs from `.env` too) agree. `.env` is the one place to
   change a service password; device passwords stay as `lantian broker-auth` generated them.
   Without `MQTT_SIMULATOR_PASSWORD` the demo simulators' account gets a new random password
   on every run, so in production nobody holds it;
3. replaces itself with `lantian broker-auth`, which completes the secrets file with a
   password for every new station or outlet and writes Mosquitto's `passwd` and `acl`.

Exit code 2 with a message naming the variable and how to generate it when a secret is bad.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml

from config.broker_accounts import ANALYTICS, COLLECTOR, HEALTH, SIMULATOR
from lantian.broker_auth import (
    SECRETS_HEADER,
    BrokerAuthError,
    load_secrets,
    new_password,
    write_private,
)

MIN_SECRET_CHARS = 16
PLACEHOLDER = "CHANGE-ME"
GENERATE_HINT = "generate one with: openssl rand -hex 24"

# broker account → the .env variable holding its password (required unless marked optional)
SERVICE_PASSWORDS = {COLLECTOR: "MQTT_COLLECTOR_PASSWORD", ANALYTICS: "MQTT_ANALYTICS_PASSWORD",
                     HEALTH: "MQTT_HEALTH_PASSWORD"}
OPTIONAL_SERVICE_PASSWORDS = {SIMULATOR: "MQTT_SIMULATOR_PASSWORD"}
OTHER_SECRETS = ("POSTGRES_PASSWORD", "INFLUXDB_ADMIN_PASSWORD", "INFLUXDB_TOKEN")
URL_SAFE_SECRETS = {"POSTGRES_PASSWORD"}
_URL_SAFE = re.compile(r"^[A-Za-z0-9._~-]+$")


def secret_problems(env: Mapping[str, str]) -> list[str]:
    """One message per required secret that is missing, a placeholder, short or malformed."""
    problems = []
    for name in (*SERVICE_PASSWORDS.values(), *OTHER_SECRETS):
        problems += _check(name, env.get(name, ""), required=True)
    for name in OPTIONAL_SERVICE_PASSWORDS.values():
        problems += _check(name, env.get(name, ""), required=False)
    return problems


def _check(name: str, value: str, *, required: bool) -> list[str]:
    if not value:
        return [f"{name} is not set in .env ({GENERATE_HINT})"] if required else []
    if PLACEHOLDER.lower() in value.lower():
        return [f"{name} is still the .env.example placeholder ({GENERATE_HINT})"]
    if len(value) < MIN_SECRET_CHARS or any(c.isspace() for c in value):
        return [f"{name} must be at least {MIN_SECRET_CHARS} characters without spaces "
                f"({GENERATE_HINT})"]
    if name in URL_SAFE_SECRETS and not _URL_SAFE.match(value):
        return [f"{name} goes into the ledger URL: use only letters, digits and - . _ ~ "
                f"({GENERATE_HINT})"]
    return []


def merge_service_passwords(existing: Mapping[str, str], env: Mapping[str, str]
                            ) -> dict[str, str]:
    """The secrets with every service account's password from `env`; an optional account
    missing from `env` gets a fresh random password (revoking whatever it had)."""
    merged = dict(existing)
    for account, name in SERVICE_PASSWORDS.items():
        merged[account] = env[name]
    for account, name in OPTIONAL_SERVICE_PASSWORDS.items():
        merged[account] = env.get(name) or new_password()
    return merged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for passwd and acl")
    parser.add_argument("--secrets-file", type=Path, required=True, help="YAML user: password")
    args = parser.parse_args(argv)
    problems = secret_problems(os.environ)
    if problems:
        print("broker-auth: the stack will not start with these secrets:\n  "
              + "\n  ".join(problems), file=sys.stderr)
        return 2
    try:
        secrets = merge_service_passwords(load_secrets(args.secrets_file), os.environ)
    except BrokerAuthError as exc:
        print(f"broker-auth: {exc}", file=sys.stderr)
        return 2
    body = yaml.safe_dump(secrets, allow_unicode=True, sort_keys=False)
    args.secrets_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private(args.secrets_file, (SECRETS_HEADER + body).encode("utf-8"))
    command = ["lantian", "broker-auth", "--out", str(args.out),
               "--secrets-file", str(args.secrets_file)]
    os.execvp(command[0], command)
    return 1  # not reached: execvp replaces the process or raises


if __name__ == "__main__":
    sys.exit(main())
