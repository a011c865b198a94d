"""Superset configuration for ExoHunter, loaded through SUPERSET_CONFIG_PATH.

Everything that differs between installs comes from the environment, which `exohunter dashboards
up` sets (and a container can set the same way): no secret and no path is written here.

- SUPERSET_SECRET_KEY: signs sessions and encrypts the stored warehouse password. Required:
  Superset's own default is public, so we refuse to start without one.
- SUPERSET_METADATA_URI: Superset's metadata database (users, charts, dashboards), e.g.
  sqlite:////path/to/superset.db or a PostgreSQL URL.
"""

import os


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(
            f"{name} is not set: start Superset with `exohunter dashboards up` (or docker compose)"
        )
    return value


SECRET_KEY = _required("SUPERSET_SECRET_KEY")
SQLALCHEMY_DATABASE_URI = _required("SUPERSET_METADATA_URI")

APP_NAME = "ExoHunter"

# Anonymous visitors get the login page, nothing else.
PUBLIC_ROLE_LIKE = None

# Served over plain HTTP on loopback by default; behind a TLS proxy, set it to true.
SESSION_COOKIE_SECURE = os.environ.get("SUPERSET_SESSION_COOKIE_SECURE", "false") == "true"
# Behind a reverse proxy (docker compose under Dokploy's Traefik): trust its X-Forwarded-* headers
# so redirects keep the public scheme and host.
ENABLE_PROXY_FIX = os.environ.get("SUPERSET_ENABLE_PROXY_FIX", "false") == "true"

# The marts are small (about ten thousand rows): a query is faster than a cache round trip,
# and every chart shows the marts as they are now.
ROW_LIMIT = 20000
SAMPLES_ROW_LIMIT = 1000

FEATURE_FLAGS = {
    "DASHBOARD_NATIVE_FILTERS": True,
    "ALERT_REPORTS": False,
    "THUMBNAILS": False,
}

# Login throttling. Superset 6.1 sets AUTH_RATE_LIMITED but enables Flask-Limiter only with
# SUPERSET_ENV=production, so nothing throttled a password guesser. Five login attempts per 40 s
# per client address; beyond that, 429 with Retry-After. The counters are in memory: each of the
# two gunicorn workers keeps its own, so a client gets at most ten attempts per window.
RATELIMIT_ENABLED = True
RATELIMIT_STORAGE_URI = "memory://"
RATELIMIT_HEADERS_ENABLED = True
# No application-wide limit (Superset's is 50/s): a dashboard loads dozens of assets at once.
RATELIMIT_APPLICATION = ""
AUTH_RATE_LIMITED = True
AUTH_RATE_LIMIT = "5 per 40 second"


def FLASK_APP_MUTATOR(app):
    """Throttle the two routes that check a password (Superset calls this once its app is
    initialised). Superset 6.1 puts AUTH_RATE_LIMIT on its own login view, which only serves
    the page; the form posts to Flask-AppBuilder's AuthDBView (``sm.auth_view``), left
    unthrottled, and the REST login (SecurityApi) never had a limit."""
    security = app.appbuilder.sm
    for blueprint in (security.auth_view.blueprint, app.blueprints["SecurityApi"]):
        security.limiter.limit(AUTH_RATE_LIMIT, methods=["POST"])(blueprint)
