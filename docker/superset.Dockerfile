# Apache Superset for the dashboards, installed exactly from superset/requirements.lock (its own
# environment, as `exohunter dashboards up` makes .venv-superset). Build context: the repository
# root.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/superset \
    PATH=/opt/superset/bin:$PATH \
    SUPERSET_CONFIG_PATH=/app/superset/superset_config.py \
    SUPERSET_HOME=/var/lib/superset

RUN pip install --no-cache-dir uv==0.13.9 && uv venv --quiet /opt/superset
COPY superset/requirements.lock /tmp/superset.lock
RUN uv pip sync --quiet --no-cache --compile-bytecode -p /opt/superset/bin/python /tmp/superset.lock

# The configuration, manage.py (admin, import) and the dashboards as YAML (superset/assets).
WORKDIR /app
COPY superset ./superset

# Non-root; SUPERSET_HOME is Superset's DATA_DIR (nothing there outlives a container: the
# metadata lives in the warehouse server's database `superset`).
RUN useradd --create-home --uid 10002 --shell /usr/sbin/nologin superset \
    && mkdir -p "$SUPERSET_HOME" \
    && chown superset:superset "$SUPERSET_HOME"
USER superset

EXPOSE 8088
CMD ["gunicorn", "--workers", "2", "--worker-class", "gthread", "--threads", "4", \
     "--bind", "0.0.0.0:8088", "--timeout", "120", "superset.app:create_app()"]
