"""docker-compose.yml as far as a machine without a Docker engine can take it:

- Debian's ``docker-compose`` (1.29) validates and interpolates the file with an ``.env`` made
  from ``.env.example``, and refuses it when any secret is empty;
- the warehouse's init script sets up, on a fresh PostgreSQL 18, the roles the services connect
  as: the migrations run as the app role, ``exohunter warehouse url --reader`` (the pipeline
  job's last step) gives the read-only role its login, and Superset's metadata role sees nothing
  of the warehouse;
- the Superset commands the compose file runs exist in Superset's own virtualenv, installed from
  the same lock as its image.

The images themselves cannot be built here (no Docker engine).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml
from typer.testing import CliRunner

from scoring import cli, settings
from scoring.dashboards import service
from scoring.warehouse import migrate, server

pytestmark = pytest.mark.integration

ROOT = settings.PROJECT_ROOT
COMPOSE_FILE = ROOT / "docker-compose.yml"
INIT_SCRIPT = ROOT / "docker" / "warehouse" / "initdb.sh"
SECRETS = (
    "EXOHUNTER_WAREHOUSE_ADMIN_PASSWORD",
    "EXOHUNTER_WAREHOUSE_PASSWORD",
    "EXOHUNTER_WAREHOUSE_READER_PASSWORD",
    "EXOHUNTER_SUPERSET_METADATA_PASSWORD",
    "EXOHUNTER_SUPERSET_SECRET_KEY",
    "EXOHUNTER_SUPERSET_ADMIN_PASSWORD",
)


# -- docker-compose config ----------------------------------------------------------------------
def env_file(folder: Path, blank: str | None = None) -> Path:
    """``.env.example`` with a distinct test value for every secret (but ``blank``)."""
    lines = []
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        name = line.split("=", 1)[0]
        if name in SECRETS and name != blank:
            line = f"{name}=test-{name.lower().replace('_', '-')}"
        lines.append(line)
    path = folder / ("blank.env" if blank else "test.env")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def compose_config(env: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    assert binary, "Debian's docker-compose must be installed (.ci/run: apt-get install)"
    # Only the env file: nothing of this shell's environment may fill in a secret.
    return subprocess.run(
        [binary, "--env-file", str(env), "-f", str(COMPOSE_FILE), "config"],
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> dict:
    result = compose_config(env_file(tmp_path_factory.mktemp("compose")))
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_config_is_valid_with_an_env_made_from_the_example(config: dict) -> None:
    assert set(config["services"]) == {
        "warehouse",
        "pipeline",
        "scoring",
        "superset-init",
        "superset",
    }
    assert set(config["volumes"]) == {"warehouse-data", "exohunter-home"}
    ports = {
        name: [port for port in service.get("ports", [])]
        for name, service in config["services"].items()
    }
    assert ports == {
        "warehouse": [],
        "pipeline": [],
        "scoring": ["0.0.0.0:8000:8000/tcp"],
        "superset-init": [],
        "superset": ["0.0.0.0:8088:8088/tcp"],
    }


def test_each_service_gets_only_the_secrets_it_needs(config: dict) -> None:
    """The app role's password never reaches Superset; the admin's never leaves the warehouse."""
    holders = {
        secret: {
            name
            for name, service in config["services"].items()
            if any(
                f"test-{secret.lower().replace('_', '-')}" in str(value)
                for value in service.get("environment", {}).values()
            )
        }
        for secret in SECRETS
    }
    assert holders == {
        "EXOHUNTER_WAREHOUSE_ADMIN_PASSWORD": {"warehouse"},
        "EXOHUNTER_WAREHOUSE_PASSWORD": {"warehouse", "pipeline", "scoring"},
        "EXOHUNTER_WAREHOUSE_READER_PASSWORD": {"pipeline", "superset-init"},
        "EXOHUNTER_SUPERSET_METADATA_PASSWORD": {"warehouse", "superset-init", "superset"},
        "EXOHUNTER_SUPERSET_SECRET_KEY": {"superset-init", "superset"},
        "EXOHUNTER_SUPERSET_ADMIN_PASSWORD": {"superset-init"},
    }
    superset_init = config["services"]["superset-init"]["environment"]
    assert superset_init["EXOHUNTER_SUPERSET_WAREHOUSE_URL"].startswith(
        f"postgresql://{server.READER_ROLE}:"
    )


@pytest.mark.parametrize("secret", SECRETS)
def test_config_refuses_an_empty_secret(secret: str, tmp_path: Path) -> None:
    result = compose_config(env_file(tmp_path, blank=secret))
    assert result.returncode != 0
    assert f"set {secret} in .env" in result.stderr


def test_the_example_itself_does_not_start() -> None:
    """Copied without filling in, .env.example is refused: no deployment on empty passwords."""
    result = compose_config(ROOT / ".env.example")
    assert result.returncode != 0
    assert "Missing mandatory value" in result.stderr


# -- the warehouse's roles ----------------------------------------------------------------------
APP_PASSWORD, READER_PASSWORD, SUPERSET_PASSWORD = "app-1f3c", "reader-9b2e", "superset-7d4a"


@pytest.fixture(scope="module")
def fresh_pg18(tmp_path_factory: pytest.TempPathFactory) -> Iterator[server.PostgresCluster]:
    """A PostgreSQL 18 server of its own (roles are server-wide), as the postgres image starts
    it; its admin is the image's POSTGRES_USER."""
    cluster = server.PostgresCluster(
        tmp_path_factory.mktemp("compose_pg18"), admin_password="compose-admin"
    )
    cluster.up()
    yield cluster
    cluster.down()


def run_init_script(cluster: server.PostgresCluster) -> None:
    """The script as the image's entrypoint runs it: psql on PATH, as POSTGRES_USER."""
    env = {
        "PATH": f"{cluster.bin_dir}:{os.environ['PATH']}",
        "PGHOST": "127.0.0.1",
        "PGPORT": str(cluster.port),
        "PGPASSWORD": cluster.admin_password,
        "POSTGRES_USER": server.ADMIN_ROLE,
        "EXOHUNTER_WAREHOUSE_PASSWORD": APP_PASSWORD,
        "EXOHUNTER_SUPERSET_METADATA_PASSWORD": SUPERSET_PASSWORD,
    }
    result = subprocess.run(
        [str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def initialised(
    fresh_pg18: server.PostgresCluster,
) -> tuple[server.PostgresCluster, list[migrate.Migration]]:
    """The init script (twice: re-running it to rotate passwords must work), then what the
    pipeline job does as the app role: the migrations, and dbt's mart tables."""
    run_init_script(fresh_pg18)
    run_init_script(fresh_pg18)
    with psycopg.connect(fresh_pg18.url(password=APP_PASSWORD)) as conn:
        applied = migrate.apply(conn)
        conn.execute("create table marts.fct_compose as select 1 as answer")
        conn.commit()
    return fresh_pg18, applied


def test_the_app_role_is_not_a_superuser_and_runs_every_migration(
    initialised: tuple[server.PostgresCluster, list[migrate.Migration]],
) -> None:
    cluster, applied = initialised
    assert [m.version for m in applied] == [m.version for m in migrate.available()]
    with psycopg.connect(cluster.url(password=APP_PASSWORD)) as conn:
        roles = conn.execute(
            "select rolsuper, rolcreaterole from pg_roles where rolname = current_user"
        )
        assert roles.fetchone() == (False, True)


def test_the_pipelines_last_step_gives_the_reader_its_login(
    initialised: tuple[server.PostgresCluster, list[migrate.Migration]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cluster, _ = initialised
    monkeypatch.setenv("EXOHUNTER_DATABASE_URL", cluster.url(password=APP_PASSWORD))
    monkeypatch.setenv("EXOHUNTER_WAREHOUSE_READER_PASSWORD", READER_PASSWORD)
    result = CliRunner().invoke(cli.app, ["warehouse", "url", "--reader"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        f"postgresql://{server.READER_ROLE}:***@127.0.0.1:{cluster.port}/exohunter"
    )
    # the URL compose hands to superset-init
    reader = cluster.url(role=server.READER_ROLE, password=READER_PASSWORD)
    with psycopg.connect(reader, autocommit=True) as conn:
        assert conn.execute("select answer from marts.fct_compose").fetchone() == (1,)
        with pytest.raises(
            (psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientPrivilege)
        ):
            conn.execute("insert into marts.fct_compose values (2)")


def test_supersets_metadata_role_owns_its_database_and_sees_no_warehouse(
    initialised: tuple[server.PostgresCluster, list[migrate.Migration]],
) -> None:
    cluster, _ = initialised
    url = cluster.url(role="superset", password=SUPERSET_PASSWORD, database="superset")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table ab_probe (id int)")
        conn.execute("drop table ab_probe")
    url = cluster.url(role="superset", password=SUPERSET_PASSWORD, database="exohunter")
    with psycopg.connect(url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from marts.fct_compose")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("create table marts.mine (x int)")


# -- Superset's commands ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def superset_bin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict]]:
    """Superset's virtualenv (from superset/requirements.lock, as the image) and the
    environment the compose file gives it, with a throwaway SQLite metadata database."""
    venv = service.ensure_venv(print)
    folder = tmp_path_factory.mktemp("compose_superset")
    env = {
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        "HOME": str(folder),
        "SUPERSET_CONFIG_PATH": str(ROOT / "superset" / "superset_config.py"),
        "SUPERSET_SECRET_KEY": "compose-test-secret-key",
        "SUPERSET_METADATA_URI": f"sqlite:///{folder / 'superset.db'}",
        "SUPERSET_HOME": str(folder),
    }
    yield venv / "bin", env


@pytest.mark.parametrize("args", [["db", "upgrade"], ["init"]], ids=" ".join)
def test_superset_init_subcommands_exist(args: list[str], superset_bin: tuple[Path, dict]) -> None:
    bin_dir, env = superset_bin
    result = subprocess.run(
        [str(bin_dir / "superset"), *args, "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Usage: superset " + " ".join(args) in result.stdout


def test_the_gunicorn_app_of_the_superset_service_exists(
    superset_bin: tuple[Path, dict],
) -> None:
    bin_dir, env = superset_bin
    command = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["services"]["superset"][
        "command"
    ]
    assert command[0] == "gunicorn"
    assert (bin_dir / "gunicorn").exists()
    module, _, factory = command[-1].partition(":")
    check = f"import {module}; assert callable({module}.{factory.removesuffix('()')})"
    result = subprocess.run(
        [str(bin_dir / "python"), "-c", check],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]


# -- backup and restore, as docs/deploy.md says ----------------------------------------------------
def test_a_dump_restores_into_a_new_deployment(
    initialised: tuple[server.PostgresCluster, list[migrate.Migration]],
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source, _ = initialised
    dump = tmp_path_factory.mktemp("compose_backup") / "exohunter.dump"
    admin = {**os.environ, "PGPASSWORD": source.admin_password}
    subprocess.run(
        [str(source.bin_dir / "pg_dump"), "-Fc", "-f", str(dump), "-h", "127.0.0.1", "-p",
         str(source.port), "-U", server.ADMIN_ROLE, "exohunter"],
        env=admin, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    target = server.PostgresCluster(
        tmp_path_factory.mktemp("compose_restored"), admin_password=source.admin_password
    )
    target.up()
    try:
        run_init_script(target)
        with psycopg.connect(target.url(password=APP_PASSWORD), autocommit=True) as conn:
            conn.execute("create role exohunter_reader nologin")
            conn.execute("alter role exohunter_reader set default_transaction_read_only = on")
        subprocess.run(
            [str(target.bin_dir / "pg_restore"), "-h", "127.0.0.1", "-p", str(target.port),
             "-U", server.ADMIN_ROLE, "-d", "exohunter", str(dump)],
            env=admin, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        # then `docker compose up -d`: the pipeline finds every migration applied and gives the
        # reader its login
        url = target.url(password=APP_PASSWORD)
        with psycopg.connect(url) as conn:
            assert migrate.apply(conn) == []
        monkeypatch.setenv("EXOHUNTER_DATABASE_URL", url)
        monkeypatch.setenv("EXOHUNTER_WAREHOUSE_READER_PASSWORD", READER_PASSWORD)
        result = CliRunner().invoke(cli.app, ["warehouse", "url", "--reader"])
        assert result.exit_code == 0, result.output
        reader = target.url(role=server.READER_ROLE, password=READER_PASSWORD)
        with psycopg.connect(reader, autocommit=True) as conn:
            assert conn.execute("select answer from marts.fct_compose").fetchone() == (1,)
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("create table marts.mine (x int)")
    finally:
        target.down()
