"""`lantian broker-auth`: Mosquitto `passwd` and `acl` files for the broker accounts.

Passwords never enter the repository: they live in a YAML secrets file (username: password)
outside it, created on first use with random passwords, which keeps every existing password
on later runs so devices already configured stay valid. The password file is hashed by
Mosquitto's own `mosquitto_passwd` (PBKDF2-SHA512), so the broker verifies exactly what it
wrote. Every file is written whole to a temporary name and renamed, mode 0600.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from config.broker_accounts import BrokerAccount, broker_accounts, render_acl
from config.outlets import load_outlets
from config.settings import Settings
from config.stations import load_stations
from lantian.local_services import ServiceStartError, find_executable

DEFAULT_SECRETS_FILE = Path("var/secrets/mqtt-passwords.yaml")
DEFAULT_OUT_DIR = Path("var/broker-auth")
SECRETS_HEADER = ("# MQTT broker passwords (username: password), kept by `lantian broker-auth`.\n"
                  "# Secret: keep outside the repository, mode 0600. Change one by editing it and\n"
                  "# re-running the command; delete a line to have a new password generated.\n")


class BrokerAuthError(ValueError):
    """The secrets file or a tool is unusable; the message says which and how to fix it."""


@dataclass(frozen=True)
class BrokerAuthFiles:
    """What one run wrote, for the command to report."""

    password_file: Path
    acl_file: Path
    secrets_file: Path
    accounts: tuple[BrokerAccount, ...]
    new_passwords: tuple[str, ...]
    unused_secrets: tuple[str, ...]

    def mosquitto_conf(self) -> str:
        """The lines that turn authentication on in mosquitto.conf (absolute paths)."""
        return (f"allow_anonymous false\npassword_file {self.password_file.resolve()}\n"
                f"acl_file {self.acl_file.resolve()}\n")


def new_password() -> str:
    """32 URL-safe characters (192 random bits)."""
    return secrets.token_urlsafe(24)


def load_secrets(path: Path) -> dict[str, str]:
    """username → password from the secrets file; {} when it does not exist yet."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise BrokerAuthError(f"secrets file {path} is not valid YAML: {exc}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise BrokerAuthError(f"secrets file {path} must be a mapping username: password")
    for username, password in raw.items():
        if not isinstance(username, str) or not isinstance(password, str):
            raise BrokerAuthError(f"secrets file {path}: entry {username!r} must map a name to "
                                  "a password string (quote passwords YAML reads as numbers)")
        if not password or any(ord(c) < 32 or ord(c) == 127 for c in password):
            raise BrokerAuthError(f"secrets file {path}: the password of {username!r} is empty "
                                  "or holds control characters")
    return raw


def add_missing_passwords(existing: Mapping[str, str], usernames: Iterable[str],
                          generate: Callable[[], str] = new_password
                          ) -> tuple[dict[str, str], list[str]]:
    """Existing entries unchanged (in their order), then a new password per missing user;
    returns the merged mapping and the users that got one."""
    merged = dict(existing)
    added = [name for name in usernames if name not in merged]
    for name in added:
        merged[name] = generate()
    return merged, added


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically (temporary file, fsync, rename), mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            os.fchmod(stream.fileno(), 0o600)
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def find_mosquitto_passwd() -> str:
    try:
        return find_executable("mosquitto_passwd", "/usr/bin/mosquitto_passwd")
    except ServiceStartError as exc:
        raise BrokerAuthError(f"{exc} (Debian package `mosquitto`)") from None


def write_password_file(passwords: Mapping[str, str], path: Path, tool: str) -> None:
    """A Mosquitto password file hashed by `tool -U` (mosquitto_passwd); the plain text exists
    only in a private (0700) scratch folder beside `path`, removed before returning."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".broker-auth-", dir=path.parent))
    try:
        plain = scratch / "passwd"
        plain.touch(mode=0o600)
        plain.write_text("".join(f"{user}:{pw}\n" for user, pw in passwords.items()),
                         encoding="utf-8")
        done = subprocess.run([tool, "-U", str(plain)], capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            raise BrokerAuthError(f"mosquitto_passwd -U failed: {done.stderr or done.stdout}")
        write_private(path, plain.read_bytes())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write_broker_auth(settings: Settings, secrets_file: Path, out_dir: Path) -> BrokerAuthFiles:
    """Accounts from the registers → secrets completed → `passwd` and `acl` in `out_dir`.

    ValueError (BrokerAuthError included) for a bad register or secrets file, or without
    mosquitto_passwd; nothing is written then.
    """
    tool = find_mosquitto_passwd()
    accounts = broker_accounts(load_stations(settings.stations_file),
                               load_outlets(settings.outlets_file), settings.mqtt.topic_root)
    usernames = [account.username for account in accounts]
    existing = load_secrets(secrets_file)
    passwords, added = add_missing_passwords(existing, usernames)
    if added:
        secrets_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        body = yaml.safe_dump(passwords, allow_unicode=True, sort_keys=False)
        write_private(secrets_file, (SECRETS_HEADER + body).encode("utf-8"))
    else:
        secrets_file.chmod(0o600)
    password_file, acl_file = out_dir / "passwd", out_dir / "acl"
    write_password_file({name: passwords[name] for name in usernames}, password_file, tool)
    write_private(acl_file, render_acl(accounts).encode("utf-8"))
    return BrokerAuthFiles(password_file, acl_file, secrets_file, tuple(accounts),
                           tuple(added), tuple(sorted(set(existing) - set(usernames))))
