#!/usr/bin/env bash
# Installs the Debian packages Lantian's local stack needs, only those that are missing:
# mosquitto (MQTT broker), influxdb (1.x time-series database), python3-venv.
set -euo pipefail
PYTHON=${1:-python3.11}
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v influxd >/dev/null 2>&1 || [ -x /usr/bin/influxd ] || need+=(influxdb)
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "error: $PYTHON not found; install Python 3.11 (Debian: apt-get install python3.11)" >&2
  exit 1
fi
"$PYTHON" -c "import ensurepip, venv" >/dev/null 2>&1 || need+=(python3-venv)
[ ${#need[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "error: need root or sudo to install: ${need[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "Installing Debian packages: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
