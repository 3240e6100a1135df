# Debian's Mosquitto 2.0, laid out as eclipse-mosquitto:2 (/mosquitto/config, /mosquitto/data
# owned by user mosquitto), so deploy/mosquitto/start.sh runs in either image unchanged.
ARG BASE=lantian-debian/base:bookworm
FROM ${BASE}
RUN set -eu; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y mosquitto mosquitto-clients; \
    rm -rf /var/lib/apt/lists/*; \
    install -d -o mosquitto -g mosquitto -m 0755 /mosquitto/config /mosquitto/data /mosquitto/log; \
    printf 'listener 1883\nallow_anonymous false\npersistence true\npersistence_location /mosquitto/data/\n' \
        >/mosquitto/config/mosquitto.conf
VOLUME ["/mosquitto/data"]
EXPOSE 1883
# started as root, Mosquitto drops to user mosquitto after reading its files
CMD ["/usr/sbin/mosquitto", "-c", "/mosquitto/config/mosquitto.conf"]
