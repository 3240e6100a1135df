# Debian's InfluxDB 1.6 with authentication on, initialised on an empty volume as the
# influxdb:1.x images are (INFLUXDB_ADMIN_USER/PASSWORD, INFLUXDB_DB, INFLUXDB_USER/PASSWORD).
# Debian has no InfluxDB 2.x; deploy/docker-compose.influxdb1.yml runs the stack on this one.
ARG BASE=lantian-debian/base:bookworm
FROM ${BASE}
RUN set -eu; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y influxdb curl ca-certificates; \
    rm -rf /var/lib/apt/lists/*; \
    install -d -o influxdb -g influxdb -m 0750 /var/lib/influxdb /var/lib/influxdb2
# /var/lib/influxdb2 too: docker-compose.yml mounts the data volume there (for 2.x), and a new
# named volume takes the owner of the folder it is mounted on
COPY influxdb-entrypoint.sh /usr/local/bin/influxdb-entrypoint.sh
# influxd reads INFLUXDB_<SECTION>_<KEY> as settings over /etc/influxdb/influxdb.conf
ENV INFLUXDB_HTTP_AUTH_ENABLED=true \
    INFLUXDB_REPORTING_DISABLED=true \
    INFLUXDB_META_DIR=/var/lib/influxdb/meta \
    INFLUXDB_DATA_DIR=/var/lib/influxdb/data \
    INFLUXDB_DATA_WAL_DIR=/var/lib/influxdb/wal
USER influxdb
VOLUME ["/var/lib/influxdb"]
EXPOSE 8086
ENTRYPOINT ["/usr/local/bin/influxdb-entrypoint.sh"]
CMD ["influxd", "-config", "/etc/influxdb/influxdb.conf"]
