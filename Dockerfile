# The Lantian image: one image for every service, the same entry command `lantian`; the
# command picks the service (collect, analyze, api, broker-auth, simulate …; docker-compose.yml).
#
#   docker build -t lantian:0.1.0 .
#   docker build --build-arg WHEELHOUSE=wheelhouse -t lantian:0.1.0 .   # wheels carried in,
#                                                   # no Python package index (docs/deploy.md)
# The base is pinned to a Debian release so an image rebuilt later gets the same system
# libraries (and the same mosquitto_passwd) as the one tested.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# -- build: a wheel for Lantian and each dependency, installed into a virtualenv ------------
FROM ${PYTHON_IMAGE} AS build
# A folder of wheels inside the build context to install from instead of the index.
ARG WHEELHOUSE=
WORKDIR /src
COPY . .
RUN set -eu; \
    if [ -n "$WHEELHOUSE" ]; then set -- --no-index --find-links "/src/$WHEELHOUSE"; fi; \
    pip wheel --no-cache-dir --disable-pip-version-check "$@" --wheel-dir /wheels .; \
    python -m venv /opt/lantian; \
    /opt/lantian/bin/pip install --no-cache-dir --disable-pip-version-check \
        --no-index --find-links /wheels lantian

# -- run: the virtualenv, mosquitto_passwd, an unprivileged user; no compilers, no wheels ----
FROM ${PYTHON_IMAGE}
# `lantian broker-auth` hashes the broker's password file with mosquitto_passwd, which Debian
# ships in the `mosquitto` package (dpkg -S /usr/bin/mosquitto_passwd); the broker itself runs
# in its own container. fonts-wqy-microhei: the 汉字 of the Chinese evidence charts.
RUN set -eu; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mosquitto \
        fonts-wqy-microhei; \
    rm -rf /var/lib/apt/lists/*; \
    groupadd --system --gid 10001 lantian; \
    useradd --system --uid 10001 --gid lantian --home-dir /var/lib/lantian \
        --shell /usr/sbin/nologin lantian; \
    install -d -o lantian -g lantian -m 0750 /var/lib/lantian /var/lib/lantian/spool \
        /var/lib/lantian/broker-auth; \
    install -d -o lantian -g lantian -m 0700 /var/lib/lantian/secrets
COPY --from=build /opt/lantian /opt/lantian
ENV PATH=/opt/lantian/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
WORKDIR /var/lib/lantian
# API and dashboard; HJ 212 TCP gateway (in `lantian collect`)
EXPOSE 8000 9212
ENTRYPOINT ["lantian"]
CMD ["--help"]
