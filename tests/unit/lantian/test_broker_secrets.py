"""The broker secrets file: existing passwords kept, missing ones added, bad files refused
with the reason, writes private and atomic."""

from __future__ import annotations

import itertools
import stat
from pathlib import Path

import pytest

from lantian.broker_auth import (
    BrokerAuthError,
    add_missing_passwords,
    load_secrets,
    new_password,
    write_private,
)


def test_existing_passwords_are_kept_and_missing_ones_added() -> None:
    counter = itertools.count()
    merged, added = add_missing_passwords({"Dongsi": "old", "retired": "gone"},
                                          ["lantian-collector", "Dongsi", "Tiantan"],
                                          generate=lambda: f"new{next(counter)}")
    assert merged == {"Dongsi": "old", "retired": "gone", "lantian-collector": "new0",
                      "Tiantan": "new1"}
    assert added == ["lantian-collector", "Tiantan"]


def test_new_passwords_are_long_and_distinct() -> None:
    passwords = {new_password() for _ in range(100)}
    assert len(passwords) == 100 and all(len(p) == 32 for p in passwords)


@pytest.mark.parametrize("text, reason", [
    ("- a\n- b\n", "must be a mapping"),
    ("Dongsi: 123456\n", "password string"),
    ("Dongsi: ''\n", "empty"),
    ('Dongsi: "a\\nb"\n', "control characters"),
    ("Dongsi: [unclosed\n", "not valid YAML"),
])
def test_unusable_secrets_files_are_refused(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "secrets.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BrokerAuthError, match=reason):
        load_secrets(path)


def test_missing_or_empty_secrets_file_is_empty(tmp_path: Path) -> None:
    assert load_secrets(tmp_path / "absent.yaml") == {}
    (tmp_path / "empty.yaml").write_text("# nothing yet\n", encoding="utf-8")
    assert load_secrets(tmp_path / "empty.yaml") == {}


def test_write_private_replaces_whole_file_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "acl"
    write_private(path, b"first")
    path.chmod(0o644)
    write_private(path, b"second")
    assert path.read_bytes() == b"second"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["acl"]  # no temporary left behind
