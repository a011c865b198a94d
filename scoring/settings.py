"""Where ExoHunter keeps its state, and which warehouse it talks to.

Everything comes from the environment so that the CLI, dbt, the tests and the containers agree:

- ``EXOHUNTER_HOME``: state directory (embedded warehouse, secrets, model artifacts);
  default ``.exohunter/`` in the checkout.
- ``EXOHUNTER_DATABASE_URL``: an existing PostgreSQL to use instead of the embedded one.
- ``EXOHUNTER_ALLOWED_HOSTS``: the names the web app answers to besides 127.0.0.1 and
  localhost (comma-separated; ``*.example.org`` for a domain's sub-domains).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = PROJECT_ROOT / "data"
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
SHIPPED_KOI_FILE = DATA_DIR / "kepler" / "koi_cumulative_2019-01-20.csv"
#: The TESS Objects of Interest table `exohunter run` loads, and an older snapshot of the same
#: table (for what happens when a newer one arrives); provenance in data/README.md.
SHIPPED_TOI_FILE = DATA_DIR / "tess" / "toi_2025-10-04.csv"
OLDER_TOI_FILE = DATA_DIR / "tess" / "toi_2020-06-30.csv"


def home() -> Path:
    """The ExoHunter home directory, created on first use."""
    path = Path(os.environ.get("EXOHUNTER_HOME") or PROJECT_ROOT / ".exohunter").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def external_database_url() -> str | None:
    """The user's own PostgreSQL, if they pointed ExoHunter at one."""
    return os.environ.get("EXOHUNTER_DATABASE_URL") or None


def allowed_hosts() -> list[str]:
    """The host names ``EXOHUNTER_ALLOWED_HOSTS`` adds to the web app's own."""
    value = os.environ.get("EXOHUNTER_ALLOWED_HOSTS", "")
    return [host.strip() for host in value.split(",") if host.strip()]


def secret(name: str, nbytes: int = 24) -> str:
    """A secret generated once into ``$EXOHUNTER_HOME/secrets`` (owner-only), never a default.

    An environment variable ``EXOHUNTER_<NAME>`` takes precedence, for deployments that inject
    secrets.
    """
    from_env = os.environ.get(f"EXOHUNTER_{name.upper()}")
    if from_env:
        return from_env
    folder = home() / "secrets"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / name
    if not path.exists():
        # O_EXCL: two processes racing to create the secret cannot both win.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(nbytes))
    return path.read_text().strip()
