# The analytics side (the `exohunter` CLI: pipeline and scoring API), installed exactly from
# requirements/analytics.lock as `make env` does. Build context: the repository root.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    EXOHUNTER_HOME=/var/lib/exohunter \
    DO_NOT_TRACK=1 \
    GX_ANALYTICS_ENABLED=false

# uv, as `make env` uses it; the lock pins every package (Python 3.11, as it was compiled for).
RUN pip install --no-cache-dir uv==0.13.9 && uv venv --quiet /opt/venv
COPY requirements/analytics.lock /tmp/analytics.lock
# --compile-bytecode: the imports of Great Expectations and dbt take twice as long without it.
RUN uv pip sync --quiet --no-cache --compile-bytecode -p /opt/venv/bin/python /tmp/analytics.lock

# The package is used in place, as in a checkout: it finds dbt_project/, expectations/ and the
# shipped data/ beside scoring/ (settings.PROJECT_ROOT).
WORKDIR /app
COPY pyproject.toml README.md ./
COPY scoring ./scoring
COPY dbt_project ./dbt_project
COPY expectations ./expectations
COPY data ./data
RUN uv pip install --quiet --no-cache --no-deps -p /opt/venv/bin/python -e .

# Non-root. Its home holds caches (numba, matplotlib); EXOHUNTER_HOME is the volume compose
# mounts (models, Data Docs, dbt logs); the Great Expectations context is set up in place.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin exohunter \
    && mkdir -p "$EXOHUNTER_HOME" \
    && chown -R exohunter:exohunter "$EXOHUNTER_HOME" /app/expectations
USER exohunter

EXPOSE 8000
CMD ["exohunter", "serve", "--host", "0.0.0.0", "--port", "8000"]
