#!/usr/bin/env bash
# Creates the virtualenv (if missing) and installs Lantian into it, editable, with dev tools.
set -euo pipefail
PYTHON=${1:-python3.11}
VENV=${2:-.venv}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[dev]'
