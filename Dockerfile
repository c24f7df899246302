# Crisis Radar: the `radar` service in a container.
#
#   docker build -t crisis-radar .
#   docker run -p 8462:8462 -v radar-state:/var/lib/radar crisis-radar
#   docker run ... -v "$PWD/radar.toml:/etc/radar/radar.toml:ro" -e RADAR_CONFIG=/etc/radar/radar.toml crisis-radar
#
# Configuration: RADAR_CONFIG (a mounted TOML file), RADAR_INGEST_TOKEN, SLACK_BOT_TOKEN,
# SLACK_SIGNING_SECRET, SLACK_API_URL, RADAR_STORE_URL (PostgreSQL works: the image has the `postgres`
# extra). State (journal, checkpoints, SQLite incident store, Slack outbox) lives on the volume
# /var/lib/radar. On SIGTERM the radar drains requests and writes a final checkpoint: give it time
# (`docker stop -t 30`, compose `stop_grace_period: 30s`). tests/test_container.py checks this file.

# -- builder: a virtualenv in /opt/venv with the project and its runtime dependencies -----------------
FROM python:3.11-slim-bookworm AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# A C compiler and the C library's headers build the project's Cython extensions (the detectors'
# per-bucket update, the term sketch); Python's headers come with the base image. Only in this stage:
# the runtime image gets the virtualenv with the compiled modules, not the compiler.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc=4:12.2.0-3 libc6-dev=2.36-9+deb12u* \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv

WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY radar ./radar
COPY detectors ./detectors
COPY alerts ./alerts
# pip builds the project's wheel (PEP 517, isolated build: Cython and scipy are fetched for it, see
# pyproject.toml's build-system, and compile the extensions) and installs it with the runtime
# dependencies and the `postgres` extra; not editable, no test tools. The dependencies resolve within
# pyproject.toml's ranges at build time (there is no lock file): rebuilds may pick newer releases.
RUN /opt/venv/bin/pip install ".[postgres]"

# -- runtime ----------------------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="Crisis Radar" \
      org.opencontainers.image.description="Early-warning radar for brand crises on social media: streaming detection, escalation, metrics." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim-bookworm"

# A fixed UID/GID so that volumes and Kubernetes' runAsUser/fsGroup line up across rebuilds.
RUN groupadd --system --gid 10001 radar \
    && useradd --system --uid 10001 --gid radar --home-dir /home/radar --shell /usr/sbin/nologin radar \
    && mkdir -p /var/lib/radar /etc/radar /home/radar \
    && chown radar:radar /var/lib/radar /home/radar \
    && chmod 0700 /var/lib/radar

COPY --from=builder /opt/venv /opt/venv

ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    HOME=/home/radar

USER 10001:10001
WORKDIR /home/radar
VOLUME ["/var/lib/radar"]
EXPOSE 8462
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8462/healthz', timeout=4).status != 200)"]

ENTRYPOINT ["radar"]
CMD ["run", "--host", "0.0.0.0", "--state-dir", "/var/lib/radar"]
