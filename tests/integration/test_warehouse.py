"""The warehouse: embedded lifecycle through the CLI, migrations, and the non-root path."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from scoring import settings
from scoring.warehouse import migrate, server
from tests.cli import exohunter

pytestmark = pytest.mark.integration


def test_embedded_lifecycle_keeps_data(tmp_path: Path) -> None:
    env = {**os.environ, "EXOHUNTER_HOME": str(tmp_path)}
    env.pop("EXOHUNTER_DATABASE_URL", None)

    up = exohunter("warehouse", "up", env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    assert "applied migration 0001_schemas" in up.stdout
    port = int((tmp_path / "warehouse" / "port").read_text())
    url = exohunter("warehouse", "url", "--show-password", env=env).stdout.strip()
    assert f"127.0.0.1:{port}/exohunter" in url
    assert "***" in exohunter("warehouse", "url", env=env).stdout
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table raw.kept (x int); insert into raw.kept values (42)")
        is_superuser = conn.execute("select rolsuper from pg_roles where rolname = current_user")
        assert is_superuser.fetchone() == (False,), "the app role must not be a superuser"

    again = exohunter("warehouse", "up", env=env)
    assert again.returncode == 0 and "applied migration" not in again.stdout

    assert exohunter("warehouse", "down", env=env).returncode == 0
    stopped = exohunter("warehouse", "status", env=env)
    assert stopped.returncode == 3 and "stopped" in stopped.stdout

    assert exohunter("warehouse", "up", env=env).returncode == 0
    with psycopg.connect(url) as conn:
        assert conn.execute("select x from raw.kept").fetchone() == (42,)
    status = exohunter("warehouse", "status", env=env)
    assert "running" in status.stdout and "PostgreSQL 18" in status.stdout
    assert exohunter("warehouse", "down", env=env).returncode == 0
    secrets_dir = tmp_path / "secrets"
    assert oct(secrets_dir.stat().st_mode & 0o777) == "0o700"
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in secrets_dir.iterdir())


def test_wrong_password_is_refused(pg_cluster: server.PostgresCluster) -> None:
    with pytest.raises(server.WarehouseError, match="password authentication failed"):
        server.connect(pg_cluster.url(password="not-the-password"))


def test_dead_database_gives_a_clear_error() -> None:
    with pytest.raises(server.WarehouseError, match="cannot connect to the warehouse"):
        server.connect("postgresql://nobody:secret@127.0.0.1:1/none")


def test_migrations_apply_once_in_order(conn: psycopg.Connection) -> None:
    assert migrate.apply(conn) == []
    versions = [
        v for (v,) in conn.execute("select version from public.schema_migrations order by 1")
    ]
    assert versions == [m.version for m in migrate.available()]
    schemas = {s for (s,) in conn.execute("select nspname from pg_namespace")}
    assert {"raw", "staging", "intermediate", "marts", "ml", "dq"} <= schemas


def test_edited_migration_is_refused(conn: psycopg.Connection) -> None:
    conn.execute("update public.schema_migrations set checksum = 'edited' where version = '0001'")
    with pytest.raises(migrate.MigrationError, match="edited after it was applied"):
        migrate.apply(conn)


@pytest.mark.skipif(
    os.geteuid() != 0, reason="as a normal user the whole suite is the non-root path"
)
def test_embedded_warehouse_as_a_normal_user() -> None:
    """As root the server runs as a system user; a normal user runs it as themself."""
    user = pwd.getpwnam("nobody")
    home = Path(tempfile.mkdtemp(prefix="exohunter-nonroot-"))
    os.chown(home, user.pw_uid, user.pw_gid)
    site_packages = next(Path(sys.prefix, "lib").glob("python3*/site-packages"))
    env = {
        "PATH": "/usr/bin:/bin",
        "EXOHUNTER_HOME": str(home),
        "PYTHONPATH": f"{site_packages}:{settings.PROJECT_ROOT}",
    }
    # The virtualenv's interpreter sits under /root; Debian's python3.11 reads the same packages.
    cmd = [
        "runuser",
        "-u",
        "nobody",
        "--",
        "env",
        *(f"{k}={v}" for k, v in env.items()),
        "/usr/bin/python3",
        "-m",
        "scoring",
    ]
    try:
        up = subprocess.run([*cmd, "warehouse", "up"], capture_output=True, text=True, timeout=120)
        assert up.returncode == 0, up.stdout + up.stderr
        assert (home / "warehouse" / "pgdata").stat().st_uid == user.pw_uid
        status = subprocess.run([*cmd, "warehouse", "status"], capture_output=True, text=True)
        assert "running" in status.stdout, status.stdout + status.stderr
    finally:
        subprocess.run([*cmd, "warehouse", "down"], capture_output=True, timeout=60)
        shutil.rmtree(home, ignore_errors=True)
