#!/usr/bin/env bash
# Installs the Debian packages Lantian's local stack and tests need, only those that are missing:
# mosquitto (MQTT broker, and mosquitto_passwd for `lantian broker-auth`), mosquitto-clients
# (mosquitto_pub: `lantian bench` publishes single readings with it), influxdb (1.x
# time-series database), python3-venv, docker-compose (the tests validate
# docker-compose.yml with `docker-compose config`, which needs no Docker engine), chromium and
# chromium-driver (the dashboard's browser tests drive the system browser headless; ~300 MB, so
# only when missing) and fonts-wqy-microhei when no Chinese font is installed (the dashboard's
# screenshots would otherwise show boxes for 汉字).
# As root it uses apt-get directly, otherwise sudo (non-interactively when CI is set).
set -euo pipefail
PYTHON=${1:-python3.11}
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v influxd >/dev/null 2>&1 || [ -x /usr/bin/influxd ] || need+=(influxdb)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || [ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
[ -n "$(fc-list :lang=zh 2>/dev/null)" ] || need+=(fonts-wqy-microhei)
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "error: $PYTHON not found; install Python 3.11 (Debian: apt-get install python3.11)" >&2
  exit 1
fi
"$PYTHON" -c "import ensurepip, venv" >/dev/null 2>&1 || need+=(python3-venv)
[ ${#need[@]} -eq 0 ] && exit 0

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "error: need root or sudo to install: ${need[*]}" >&2; exit 1; }
  SUDO=(sudo)
  # CI has no one to type a password: fail at once instead of waiting for one
  [ -n "${CI:-}" ] && SUDO=(sudo -n)
fi
echo "Installing Debian packages: ${need[*]}"
# env passes DEBIAN_FRONTEND through sudo, which would otherwise drop it
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
