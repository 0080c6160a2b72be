# orghistory: the production image (api, worker and seed all run from it; see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ORGHISTORY_DATA_DIR=/var/lib/orghistory

# Install the distribution (psycopg[binary] ships its own libpq, so no build tools are needed),
# then drop the source: the processes run the installed package, not the build context.
COPY . /tmp/src
RUN pip install --no-cache-dir /tmp/src \
    && rm -rf /tmp/src

# Run as an unprivileged user that owns only the data directory.
RUN groupadd --system --gid 10001 orghistory \
    && useradd --system --uid 10001 --gid orghistory --home-dir /var/lib/orghistory \
       --shell /usr/sbin/nologin orghistory \
    && mkdir -p /var/lib/orghistory \
    && chown orghistory:orghistory /var/lib/orghistory
USER 10001:10001
WORKDIR /var/lib/orghistory

EXPOSE 8000

# service.gunicorn_conf: gthread workers (each SSE stream holds a thread while its client is
# connected), no silent-worker timeout (streams are long-lived), and live streams ended at once
# when a worker is stopped. 2 processes x 64 threads serve up to 128 concurrent requests/streams.
CMD ["gunicorn", "-c", "python:service.gunicorn_conf", "--workers", "2", "--threads", "64", \
     "--bind", "0.0.0.0:8000", "--access-logfile", "-", "service.app:create_app()"]
