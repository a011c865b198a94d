"""``exohunter dashboards up | down | status``: Superset serving the dashboards kept in git.

Superset 6.1 pins SQLAlchemy 1.4, pandas < 2.2 and Flask-era libraries the analytics environment
has outgrown, so it lives in a virtualenv of its own, installed exactly from
``superset/requirements.lock`` (with uv) the first time it is needed.

Bootstrap follows apache/superset's docker-init order: ``superset db upgrade`` → ``superset
init`` → admin user → import of ``superset/assets`` (the last two in one Superset start-up, see
``superset/manage.py``). Upgrade and init run again only when the lock changes; the import runs
on every ``up`` and overwrites by UUID, so the YAML in git is what every checkout shows, and a
re-run duplicates nothing. Superset reads the warehouse as the read-only role
(``warehouse.reader_url``); its metadata database is SQLite under the ExoHunter home unless
``EXOHUNTER_SUPERSET_METADATA_URL`` names another. ``SECRET_KEY`` and the admin password are
generated once into the home's secrets (or read from ``EXOHUNTER_SUPERSET_SECRET_KEY`` /
``EXOHUNTER_SUPERSET_ADMIN_PASSWORD``). Superset's state (metadata, pid, port, log) lives in
``$EXOHUNTER_HOME/superset`` unless ``EXOHUNTER_SUPERSET_HOME`` says otherwise, owner-only:
every Superset process runs with umask 077.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from scoring import settings
from scoring.errors import ExoHunterError
from scoring.warehouse import server

SUPERSET_DIR = settings.PROJECT_ROOT / "superset"
ASSETS_DIR = SUPERSET_DIR / "assets"
REQUIREMENTS_LOCK = SUPERSET_DIR / "requirements.lock"
HOST = "127.0.0.1"
DEFAULT_PORT = 8088
ADMIN_USERNAME = "admin"
# Slug → title of the dashboards in superset/assets (URL: /superset/dashboard/SLUG/).
DASHBOARDS = {
    "discoveries": "Discoveries",
    "model-performance": "Model performance",
    "anomalies": "Anomalies",
    "data-quality": "Data quality",
}
HEALTH_TIMEOUT_S = 120
STOP_TIMEOUT_S = 30
# Superset's state holds the admin's password hash and the warehouse password (encrypted with
# the secret key): owner-only, like the secrets. Every Superset process runs with this umask.
OWNER_ONLY_UMASK = 0o077

Say = Callable[[str], None]


class DashboardsError(ExoHunterError):
    """Superset cannot be installed, bootstrapped, started or stopped; the message says why."""


# -- where things live --------------------------------------------------------------------------
def venv_dir() -> Path:
    """Superset's virtualenv: beside the analytics one, or ``EXOHUNTER_SUPERSET_VENV``."""
    default = settings.PROJECT_ROOT / ".venv-superset"
    return Path(os.environ.get("EXOHUNTER_SUPERSET_VENV") or default)


def lock_digest() -> str:
    return hashlib.sha256(REQUIREMENTS_LOCK.read_bytes()).hexdigest()[:16]


@dataclass(frozen=True)
class Paths:
    """Superset's state under the ExoHunter home."""

    root: Path

    @property
    def pid_file(self) -> Path:
        return self.root / "gunicorn.pid"

    @property
    def port_file(self) -> Path:
        return self.root / "port"

    @property
    def log_file(self) -> Path:
        return self.root / "superset.log"

    @property
    def bootstrap_stamp(self) -> Path:
        return self.root / "bootstrapped"

    @property
    def metadata_db(self) -> Path:
        return self.root / "superset.db"


def paths() -> Paths:
    """``$EXOHUNTER_HOME/superset``, or ``EXOHUNTER_SUPERSET_HOME`` (the benchmark's own),
    owner-only (an install made before it was is closed on the way)."""
    root = Path(os.environ.get("EXOHUNTER_SUPERSET_HOME") or settings.home() / "superset")
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    root.chmod(0o700)
    return Paths(root)


def metadata_uri(where: Paths) -> str:
    return os.environ.get("EXOHUNTER_SUPERSET_METADATA_URL") or f"sqlite:///{where.metadata_db}"


def admin_password_file() -> Path:
    return settings.home() / "secrets" / "superset_admin_password"


# -- the virtualenv -----------------------------------------------------------------------------
def ensure_venv(say: Say) -> Path:
    """Create or update Superset's virtualenv from the lock (uv: seconds when cached)."""
    venv = venv_dir()
    stamp = venv / f".installed-{lock_digest()}"
    if stamp.exists():
        return venv
    uv = Path(sys.executable).parent / "uv"
    if not uv.exists():
        found = shutil.which("uv")
        if found is None:
            raise DashboardsError("uv is not installed: run `make env` first")
        uv = Path(found)
    say(f"installing Superset into {venv} from {REQUIREMENTS_LOCK.name} (once)…")
    python = venv / "bin" / "python"
    steps = [
        [str(uv), "venv", "--quiet", "--allow-existing", "-p", sys.executable, str(venv)],
        [str(uv), "pip", "sync", "--quiet", "--compile-bytecode", "-p", str(python),
         str(REQUIREMENTS_LOCK)],
    ]  # fmt: skip
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise DashboardsError(
                f"could not install Superset ({' '.join(step[:3])}):\n{result.stderr.strip()}"
            )
    for old in venv.glob(".installed-*"):
        old.unlink()
    stamp.touch()
    return venv


# -- running Superset's own commands ------------------------------------------------------------
def superset_env(where: Paths, **extra: str) -> dict[str, str]:
    """Superset's environment: its configuration and nothing of ExoHunter's own secrets (the
    app role's URL stays out of the server's environment)."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("EXOHUNTER_", "PG", "VIRTUAL_ENV"))
    }
    env = {
        **inherited,
        "SUPERSET_CONFIG_PATH": str(SUPERSET_DIR / "superset_config.py"),
        "SUPERSET_SECRET_KEY": settings.secret("superset_secret_key", 42),
        "SUPERSET_METADATA_URI": metadata_uri(where),
        "SUPERSET_HOME": str(where.root),  # Superset's DATA_DIR (uploads, caches)
        **extra,
    }
    return env


def _run(venv: Path, args: list[str], env: dict[str, str], where: Paths) -> str:
    """Run a program of Superset's virtualenv; its output goes to the log and is returned."""
    result = subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]],
        env=env,
        cwd=where.root,
        capture_output=True,
        text=True,
        check=False,
        umask=OWNER_ONLY_UMASK,
    )
    with where.log_file.open("a", encoding="utf-8") as log:
        log.write(f"$ {' '.join(args)}\n{result.stdout}{result.stderr}\n")
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise DashboardsError(f"`{' '.join(args)}` failed:\n{tail}\nlog: {where.log_file}")
    return result.stdout


@dataclass
class Bootstrap:
    seconds: float
    upgraded: bool
    admin_created: bool
    imported: str


def bootstrap(url: str, say: Say) -> Bootstrap:
    """Make Superset's metadata current and import the bundle; idempotent.

    ``url`` is the app-role URL of the warehouse; Superset gets the read-only role's."""
    start = time.perf_counter()
    venv = ensure_venv(say)
    where = paths()
    reader = server.reader_url(url)
    env = superset_env(
        where,
        EXOHUNTER_SUPERSET_ADMIN_PASSWORD=settings.secret("superset_admin_password"),
        EXOHUNTER_SUPERSET_WAREHOUSE_URL=reader,
    )
    # Upgrade and init again when Superset's lock or its metadata database changes.
    stamp = f"{lock_digest()} {hashlib.sha256(metadata_uri(where).encode()).hexdigest()[:16]}"
    upgraded = (
        not where.bootstrap_stamp.exists()
        or where.bootstrap_stamp.read_text() != stamp
        or (metadata_uri(where).endswith(str(where.metadata_db)) and not where.metadata_db.exists())
    )
    if upgraded:
        say("superset db upgrade…")
        _run(venv, ["superset", "db", "upgrade"], env, where)
        say("superset init…")
        _run(venv, ["superset", "init"], env, where)
        where.bootstrap_stamp.write_text(stamp)
    say("importing the dashboards…")
    output = _run(venv, ["python", str(SUPERSET_DIR / "manage.py"), "setup", str(ASSETS_DIR)],
                  env, where)  # fmt: skip
    if where.metadata_db.exists():  # made 0644 by an install older than the umask
        where.metadata_db.chmod(0o600)
    lines = output.strip().splitlines()
    return Bootstrap(
        seconds=time.perf_counter() - start,
        upgraded=upgraded,
        admin_created="admin created" in lines,
        imported=next((line for line in lines if line.startswith("imported")), ""),
    )


def export(target: Path, say: Say) -> None:
    """Write Superset's current dashboards, charts, datasets and database as a YAML bundle."""
    venv = ensure_venv(say)
    where = paths()
    output = _run(venv, ["python", str(SUPERSET_DIR / "manage.py"), "export", str(target)],
                  superset_env(where), where)  # fmt: skip
    files = [line for line in output.splitlines() if line.startswith("exported ")]
    say(f"exported {len(files)} files into {target}")


# -- the server ---------------------------------------------------------------------------------
def _alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie does not: PID 1 here may never reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((HOST, port)) == 0


def healthy(port: int, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=timeout) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class ServerStatus:
    pid: int | None
    port: int | None
    running: bool
    healthy: bool
    log_file: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port or DEFAULT_PORT}"


def status() -> ServerStatus:
    where = paths()
    pid = int(where.pid_file.read_text()) if where.pid_file.exists() else None
    port = int(where.port_file.read_text()) if where.port_file.exists() else None
    running = pid is not None and _alive(pid)
    return ServerStatus(
        pid=pid,
        port=port,
        running=running,
        healthy=running and port is not None and healthy(port),
        log_file=where.log_file,
    )


def serve(port: int, say: Say) -> ServerStatus:
    """Start gunicorn in the background (its own session) and wait for /health."""
    current = status()
    if current.running:
        if current.port == port and current.healthy:
            say(f"Superset already runs (pid {current.pid})")
            return current
        stop()
    if _port_in_use(port):
        raise DashboardsError(f"port {port} is in use by another program: stop it or pass --port")
    venv = ensure_venv(say)
    where = paths()
    command = [
        str(venv / "bin" / "gunicorn"),
        "--workers", "2", "--worker-class", "gthread", "--threads", "4",
        "--bind", f"{HOST}:{port}", "--timeout", "120", "--graceful-timeout", "10",
        "superset.app:create_app()",
    ]  # fmt: skip
    with where.log_file.open("a", encoding="utf-8") as log:
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        process = subprocess.Popen(
            command,
            env=superset_env(where),
            cwd=where.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            umask=OWNER_ONLY_UMASK,
        )
    where.pid_file.write_text(str(process.pid))
    where.port_file.write_text(str(port))
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while not healthy(port, timeout=1):
        if process.poll() is not None or time.monotonic() > deadline:
            stop()
            raise DashboardsError(
                f"Superset did not answer /health on port {port}: see {where.log_file}"
            )
        time.sleep(0.2)
    return status()


def stop() -> bool:
    """Stop gunicorn (the whole process group) if it runs; True if it was running."""
    where = paths()
    current = status()
    where.pid_file.unlink(missing_ok=True)
    if not current.running or current.pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(current.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _alive(current.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(current.pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(current.pid, signal.SIGKILL)
    return True


# -- the commands -------------------------------------------------------------------------------
def up(url: str, port: int, say: Say) -> ServerStatus:
    """Bootstrap (idempotent) and serve; say where to log in."""
    done = bootstrap(url, say)
    say(
        f"bootstrap {done.seconds:.1f} s"
        f" ({'db upgrade + init + ' if done.upgraded else ''}import: {done.imported})"
    )
    server = serve(port, say)
    say(f"Superset: {server.url}/  (log: {server.log_file})")
    for slug, title in DASHBOARDS.items():
        say(f"  {title + ':':20} {server.url}/superset/dashboard/{slug}/")
    if done.admin_created and not os.environ.get("EXOHUNTER_SUPERSET_ADMIN_PASSWORD"):
        say(f"login: {ADMIN_USERNAME} / {settings.secret('superset_admin_password')}"
            f"  (shown once; kept in {admin_password_file()})")  # fmt: skip
    else:
        say(f"login: {ADMIN_USERNAME}, password in {admin_password_file()}"
            " (or EXOHUNTER_SUPERSET_ADMIN_PASSWORD)")  # fmt: skip
    return server


@contextlib.contextmanager
def served(url: str, port: int, say: Say) -> Iterator[ServerStatus]:
    """Superset up for the duration of the block, then stopped (Ctrl-C included) unless it
    already ran before."""
    already_running = status().running
    server = up(url, port, say)
    try:
        yield server
    finally:
        if not already_running:
            stop()
            say("Superset stopped")


def wait_until_interrupted(say: Say) -> None:
    say("serving until Ctrl-C…")
    with contextlib.suppress(KeyboardInterrupt):
        while status().running:
            time.sleep(1)
    say("")
