#!/bin/sh
# Starts Mosquitto in docker-compose with Lantian's broker settings and the accounts written
# by the `broker-auth` service: anonymous clients refused, every user limited by the ACL.
#
# The password and ACL files come from a volume owned by the Lantian image's user, mode 0600.
# Mosquitto reads them after dropping privileges to its own user, so they are copied here
# (this runs as root, before the drop) and handed to that user. The copy is made at every
# start: after `broker-auth` rewrote them, `docker-compose restart mosquitto` applies them.
# Paths and port can be overridden to try the script outside the container.
set -eu
auth_in=${LANTIAN_BROKER_AUTH_DIR:-/lantian/broker-auth}
conf_in=${LANTIAN_BROKER_CONF:-/lantian/mosquitto.conf}
conf_dir=${MOSQUITTO_CONF_DIR:-/mosquitto/config}
data_dir=${MOSQUITTO_DATA_DIR:-/mosquitto/data}
port=${MOSQUITTO_PORT:-1883}
user=${MOSQUITTO_USER:-mosquitto}

for name in passwd acl; do
  if [ ! -s "$auth_in/$name" ]; then
    echo "start.sh: $auth_in/$name is missing or empty; run: docker-compose run --rm broker-auth" >&2
    exit 1
  fi
  cp "$auth_in/$name" "$conf_dir/$name"
  chown "$user:$user" "$conf_dir/$name"
  chmod 0600 "$conf_dir/$name"
done

# Lantian's file (queue limits, persistence) minus its allow_anonymous, then authentication.
{
  echo "listener $port"
  echo "persistence_location $data_dir/"
  grep -v '^[[:space:]]*allow_anonymous' "$conf_in"
  echo "allow_anonymous false"
  echo "password_file $conf_dir/passwd"
  echo "acl_file $conf_dir/acl"
} > "$conf_dir/mosquitto.conf"

exec mosquitto -c "$conf_dir/mosquitto.conf"
