# Python 3.11 from Debian bookworm, with venv and pip: a base for the Lantian image where
# python:3.11-slim-bookworm cannot be pulled (deploy/debian-images/build.sh).
ARG BASE=lantian-debian/base:bookworm
FROM ${BASE}
RUN set -eu; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y python3 python3-venv python3-pip \
        python-is-python3 ca-certificates; \
    rm -rf /var/lib/apt/lists/*; \
    python -c "import sys; assert sys.version_info[:2] == (3, 11), sys.version"
CMD ["python3"]
