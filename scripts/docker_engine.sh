#!/usr/bin/env bash
# Makes a Docker Engine answer on this machine, for the deployment tests (`make test-deploy`):
# installs Debian's docker.io and debootstrap when missing (debootstrap builds the stack's
# images from Debian packages: deploy/debian-images/build.sh), and starts dockerd when no
# engine answers. A machine whose engine already runs is left as it is.
# Needs root (or sudo) to install and to start dockerd. dockerd's log: var/dockerd.log.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "error: need root or sudo to run Docker" >&2; exit 1; }
  SUDO=(sudo)
  [ -n "${CI:-}" ] && SUDO=(sudo -n)
fi
need=()
command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ] || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  echo "Installing Debian packages: ${need[*]}"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # the package's own service start is refused where there is no init system; started below
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# docker.io ships its client as docker; a machine may carry a newer client elsewhere on PATH
docker=$(command -v docker || echo /usr/bin/docker)
"$docker" info >/dev/null 2>&1 && exit 0
mkdir -p var
echo "Starting dockerd (log: var/dockerd.log)"
"${SUDO[@]}" setsid "$(command -v dockerd || echo /usr/sbin/dockerd)" >var/dockerd.log 2>&1 < /dev/null &
for _ in $(seq 60); do
  "$docker" info >/dev/null 2>&1 && exit 0
  sleep 0.5
done
echo "error: dockerd did not answer within 30 s; its log:" >&2
tail -20 var/dockerd.log >&2
exit 1
