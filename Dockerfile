# The Pit worker image: `pit worker` (the default command) against the Temporal, S3 and
# OpenSearch that docker-compose.yml starts, or any others, through PIT_* variables. It also
# carries the two scripts the compose stack runs in it: the worker's health check and the
# S3 bucket setup (deploy/worker/).
FROM python:3.11.15-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIT_STATE_DIR=/var/lib/pit

WORKDIR /app
COPY pyproject.toml README.md ./
COPY pit ./pit
# the state dir is made here so that a new named volume mounted on it is owned by pit
RUN pip install . \
    && useradd --create-home --uid 10001 --user-group pit \
    && mkdir -p /var/lib/pit \
    && chown pit:pit /var/lib/pit
COPY deploy/worker/ /opt/pit/

USER pit
WORKDIR /var/lib/pit
# plans and journals (the stale manager's) live in the state dir: keep it out of the
# container's own layer so that recreating the container does not lose them
VOLUME ["/var/lib/pit"]
# SIGTERM drains in-flight activities (temporal.graceful_shutdown) before the worker exits
STOPSIGNAL SIGTERM
ENTRYPOINT ["pit"]
CMD ["worker"]
