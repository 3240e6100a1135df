#!/usr/bin/env bash
# Builds the stack's images from Debian packages alone, for a Docker host that cannot pull from
# Docker Hub but reaches a Debian mirror (the bureau's own, or deb.debian.org):
#
#   lantian-debian/base:bookworm    debootstrap --variant=minbase, imported with `docker import`
#   lantian-debian/python:3.11      Debian's python3 (3.11) with venv and pip: the Lantian
#                                   image's base (LANTIAN_PYTHON_IMAGE in .env)
#   lantian-debian/mosquitto:2      Debian's mosquitto, laid out as eclipse-mosquitto:2
#   lantian-debian/postgres:15      Debian's postgresql-15, initialised as postgres:15 is
#                                   (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB)
#   lantian-debian/influxdb:1.6     Debian's influxdb 1.6 with authentication on: Debian has
#                                   no InfluxDB 2.x (deploy/docker-compose.influxdb1.yml)
#
# Usage: deploy/debian-images/build.sh [--mirror URL] [--rebuild-base]
# Needs root (debootstrap), Docker Engine and debootstrap (apt-get install debootstrap).
# An image that exists is rebuilt from Docker's cache in seconds; the base only with
# --rebuild-base, since a new debootstrap gives new layers and rebuilds everything.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mirror=http://deb.debian.org/debian
suite=bookworm
rebuild_base=
while [ $# -gt 0 ]; do
  case $1 in
    --mirror) mirror=$2; shift 2 ;;
    --rebuild-base) rebuild_base=1; shift ;;
    *) echo "usage: $0 [--mirror URL] [--rebuild-base]" >&2; exit 2 ;;
  esac
done
base=lantian-debian/base:$suite

if [ -n "$rebuild_base" ] || ! docker image inspect "$base" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null 2>&1 || {
    echo "error: debootstrap not found: apt-get install debootstrap" >&2; exit 1; }
  root=$(mktemp -d /var/tmp/lantian-rootfs.XXXXXX)
  trap 'rm -rf "$root"' EXIT
  echo "debootstrap $suite from $mirror into $root"
  debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$root.log" 2>&1 || {
    tail -20 "$root.log" >&2; echo "error: debootstrap failed (log: $root.log)" >&2; exit 1; }
  rm -f "$root.log"
  # as Debian's own images: updates and security, no daemons started by package scripts, no
  # package caches kept
  cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb ${mirror%/debian}/debian-security $suite-security main
SOURCES
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 0755 "$root/usr/sbin/policy-rc.d"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$root/etc/apt/apt.conf.d/90lantian-no-recommends"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" --numeric-owner -c . | docker import \
    --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' - "$base" >/dev/null
  echo "built $base"
fi

for name in python:3.11 mosquitto:2 postgres:15 influxdb:1.6; do
  file=$here/${name%%:*}.Dockerfile
  log=$(mktemp)
  if ! docker build --build-arg "BASE=$base" -t "lantian-debian/$name" -f "$file" "$here" \
      >"$log" 2>&1; then
    tail -30 "$log" >&2; rm -f "$log"
    echo "error: building lantian-debian/$name failed" >&2; exit 1
  fi
  rm -f "$log"
  echo "built lantian-debian/$name"
done
