# A Pit worker image: `docker compose up` runs it against Temporal, MinIO and OpenSearch.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY pit ./pit
RUN pip install . && useradd --create-home --uid 10001 pit && mkdir -p /var/lib/pit && chown pit /var/lib/pit

USER pit
WORKDIR /var/lib/pit
# SIGTERM drains in-flight activities (temporal.graceful_shutdown) before the worker exits
STOPSIGNAL SIGTERM
ENTRYPOINT ["pit"]
CMD ["worker"]
