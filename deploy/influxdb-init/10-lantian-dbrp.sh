#!/bin/bash
# Lantian speaks InfluxDB's 1.x API (/write?db=lantian, InfluxQL /query): map its database and
# default retention policy to the bucket created at setup (a DBRP mapping).
#
# Runs once, when the influxdb:2.x container initialises an empty volume: the image's
# entrypoint runs every executable *.sh in /docker-entrypoint-initdb.d after `influx setup`,
# with the influx CLI configured (host, org, admin token) and DOCKER_INFLUXDB_INIT_BUCKET_ID
# exported. A failure here makes the entrypoint discard the half-initialised data and exit,
# so the next start tries again from scratch.
set -euo pipefail
database=${LANTIAN_INFLUX_DATABASE:-lantian}
influx v1 dbrp create --db "$database" --rp autogen \
  --bucket-id "${DOCKER_INFLUXDB_INIT_BUCKET_ID:?set by the influxdb image after setup}" --default
echo "lantian: database ${database} (retention policy autogen) → bucket ${DOCKER_INFLUXDB_INIT_BUCKET}"
