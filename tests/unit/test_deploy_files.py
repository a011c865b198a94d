"""The deployment files agree with the code: every command docker-compose.yml runs exists (the
`exohunter` subcommands and options in the typer app, manage.py's commands, the programs in the
lock files), every Dockerfile COPY source exists, the images install from the locks as non-root,
.env.example lists exactly the variables the compose file reads, and docs/deploy.md names what
the file defines. (`docker-compose config` itself: tests/integration/test_compose.py.)
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.exceptions import TyperException

from scoring import cli, settings

ROOT = settings.PROJECT_ROOT
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
ENV_EXAMPLE = ROOT / ".env.example"
APP_DIR = "/app"  # WORKDIR of both images: the repository's layout under it
REQUIRED = re.compile(r"\$\{(\w+):\?[^}]*\}")
DEFAULTED = re.compile(r"\$\{(\w+):-([^}]*)\}")


# -- reading the files --------------------------------------------------------------------------
@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


def dockerfile(path: Path) -> list[Instruction]:
    """A Dockerfile's instructions, continuation lines joined, comments dropped."""
    lines = [
        line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")
    ]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [
        Instruction(keyword.upper(), args.strip())
        for keyword, args in (line.split(None, 1) for line in joined.splitlines() if line.strip())
    ]


def service_dockerfile(name: str) -> Path:
    build = SERVICES[name]["build"]
    return ROOT / build["context"] / build["dockerfile"]


def commands(service: dict[str, Any]) -> list[list[str]]:
    """The programs a service runs: its command, with `sh -c "a && b"` split into a and b."""
    command = service["command"]
    if command[:2] == ["sh", "-c"]:
        return [shlex.split(part) for part in command[2].split("&&")]
    return [command]


def locked(lock: Path) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", lock.read_text(encoding="utf-8"), re.M)
    return {name.lower(): version for name, version in pins}


def env_example() -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    return {name: value for name, value in pairs}


def compose_text() -> str:
    """The compose file without its comments."""
    lines = (ROOT / "docker-compose.yml").read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("#"))


# -- services and their order -------------------------------------------------------------------
def test_services_and_their_order() -> None:
    assert set(SERVICES) == {"warehouse", "pipeline", "scoring", "superset-init", "superset"}
    conditions = {
        (name, upstream): spec["condition"]
        for name, service in SERVICES.items()
        for upstream, spec in service.get("depends_on", {}).items()
    }
    assert conditions == {
        ("pipeline", "warehouse"): "service_healthy",
        ("scoring", "pipeline"): "service_completed_successfully",
        ("superset-init", "warehouse"): "service_healthy",
        ("superset-init", "pipeline"): "service_completed_successfully",
        ("superset", "superset-init"): "service_completed_successfully",
    }
    # one-shot jobs run once per `up`; servers come back after a reboot
    for name in ("pipeline", "superset-init"):
        assert SERVICES[name]["restart"] == "no"
    for name in ("warehouse", "scoring", "superset"):
        assert SERVICES[name]["restart"] == "unless-stopped"


def test_warehouse_is_postgres_18_on_a_named_volume_with_a_healthcheck() -> None:
    warehouse = SERVICES["warehouse"]
    assert warehouse["image"] == "postgres:18"
    mounts = dict(volume.split(":")[:2] for volume in warehouse["volumes"])
    # PostgreSQL 18 images keep PGDATA in /var/lib/postgresql/18/docker, under this mount
    assert mounts["warehouse-data"] == "/var/lib/postgresql"
    assert "warehouse-data" in COMPOSE["volumes"]
    init_script = next(src for src, dst in mounts.items() if "docker-entrypoint-initdb.d" in dst)
    assert (ROOT / init_script).is_file()
    assert (ROOT / init_script).stat().st_mode & 0o111, "executed, not sourced, by the entrypoint"
    assert warehouse["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]


def test_pipeline_and_api_share_the_home_volume_for_the_model_artifacts() -> None:
    for name in ("pipeline", "scoring"):
        assert "exohunter-home:/var/lib/exohunter" in SERVICES[name]["volumes"]
    env = {i.args for i in dockerfile(service_dockerfile("pipeline")) if i.keyword == "ENV"}
    assert any("EXOHUNTER_HOME=/var/lib/exohunter" in args for args in env)


# -- every command exists -----------------------------------------------------------------------
def resolve_exohunter(args: list[str]) -> Any:
    """Parse ``exohunter ARGS`` as the CLI would, without running it: an unknown subcommand fails
    here, an unknown option or a value of the wrong type raises the CLI's usage error."""
    command = typer.main.get_command(cli.app)
    while hasattr(command, "get_command"):  # a group: descend into the named subcommand
        name, args = args[0], args[1:]
        found = command.get_command(None, name)
        assert found is not None, f"`exohunter` has no subcommand {name!r}"
        command = found
    command.make_context(command.name, list(args))
    return command


def load_manage() -> Any:
    spec = importlib.util.spec_from_file_location("manage", ROOT / "superset" / "manage.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def copied_into_image(relative: str, docker: Path) -> bool:
    """True if ``relative`` (a path under the image's /app) comes from a COPY of the repo."""
    for item in dockerfile(docker):
        if item.keyword != "COPY":
            continue
        *sources, dest = item.args.split()
        dest = dest.removeprefix("./").rstrip("/")
        for source in sources:
            if dest and source.rstrip("/") == dest and relative.startswith(f"{dest}/"):
                return (ROOT / relative).exists()
    return False


ANALYTICS_COMMANDS = [
    (name, args) for name in ("pipeline", "scoring") for args in commands(SERVICES[name])
]
SUPERSET_COMMANDS = [
    (name, args) for name in ("superset-init", "superset") for args in commands(SERVICES[name])
]


@pytest.mark.parametrize(("service", "args"), ANALYTICS_COMMANDS, ids=lambda x: str(x))
def test_analytics_commands_exist_in_the_cli(service: str, args: list[str]) -> None:
    assert args[0] == "exohunter", f"{service} runs {args[0]!r}, not the package's CLI"
    resolve_exohunter(args[1:])


def test_the_cli_check_catches_what_does_not_exist() -> None:
    with pytest.raises(AssertionError, match="no subcommand"):
        resolve_exohunter(["deploy"])
    with pytest.raises(TyperException, match="No such option"):
        resolve_exohunter(["serve", "--hots", "0.0.0.0"])
    with pytest.raises(typer.BadParameter):
        resolve_exohunter(["serve", "--port", "eighty"])


def test_the_api_listens_on_the_published_port() -> None:
    (args,) = commands(SERVICES["scoring"])
    context = resolve_exohunter(args[1:]).make_context("serve", args[2:])
    assert context.params == {"host": "0.0.0.0", "port": 8000}
    assert SERVICES["scoring"]["ports"][0].endswith(":8000")


@pytest.mark.parametrize(("service", "args"), SUPERSET_COMMANDS, ids=lambda x: str(x))
def test_superset_commands_exist(service: str, args: list[str]) -> None:
    """The programs come from the Superset lock; manage.py's command is one it accepts and its
    paths are copied into the image. (The superset subcommands and the gunicorn app are run in
    Superset's own virtualenv by tests/integration/test_compose.py.)"""
    pins = locked(ROOT / "superset" / "requirements.lock")
    program, rest = args[0], args[1:]
    if program == "superset":
        assert "apache-superset" in pins
        assert rest in (["db", "upgrade"], ["init"])
    elif program == "gunicorn":
        assert "gunicorn" in pins
        assert rest[-1] == "superset.app:create_app()"
        assert "0.0.0.0:8088" in rest
    else:
        assert program == "python"
        script, command, folder = rest
        assert command in load_manage().COMMANDS
        docker = service_dockerfile(service)
        assert copied_into_image(script, docker), f"{script} is not in the image"
        assert copied_into_image(folder, docker), f"{folder} is not in the image"


# -- images -------------------------------------------------------------------------------------
DOCKERFILES = {
    "docker/analytics.Dockerfile": "requirements/analytics.lock",
    "docker/superset.Dockerfile": "superset/requirements.lock",
}


def test_every_service_builds_from_a_dockerfile_in_the_repo() -> None:
    built = {
        name: service_dockerfile(name).relative_to(ROOT).as_posix()
        for name, service in SERVICES.items()
        if "build" in service
    }
    assert built == {
        "pipeline": "docker/analytics.Dockerfile",
        "scoring": "docker/analytics.Dockerfile",
        "superset-init": "docker/superset.Dockerfile",
        "superset": "docker/superset.Dockerfile",
    }
    # services sharing an image tag build the same Dockerfile
    images = {SERVICES[name]["image"]: path for name, path in built.items()}
    assert len(images) == 2


def dockerignored(relative: str) -> bool:
    patterns = [
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith(("#", "!"))
    ]
    return any(Path(relative).match(pattern) for pattern in patterns)


@pytest.mark.parametrize("path", DOCKERFILES)
def test_every_copy_source_exists_and_reaches_the_build(path: str) -> None:
    copies = [i for i in dockerfile(ROOT / path) if i.keyword == "COPY"]
    assert copies
    for item in copies:
        assert not item.args.startswith("--from"), "no other image's files"
        *sources, _ = item.args.split()
        for source in sources:
            assert (ROOT / source).exists(), f"{path}: COPY {source}: no such file"
            assert not dockerignored(source), f"{path}: COPY {source} is in .dockerignore"


@pytest.mark.parametrize(("path", "lock"), DOCKERFILES.items())
def test_images_install_exactly_from_the_lock_as_make_env_does(path: str, lock: str) -> None:
    steps = dockerfile(ROOT / path)
    copied = [i.args.split() for i in steps if i.keyword == "COPY"]
    target = next(dest for *sources, dest in copied if sources == [lock])
    assert any(
        i.keyword == "RUN" and "uv pip sync" in i.args and i.args.endswith(target) for i in steps
    ), f"{path} must `uv pip sync` {lock}"
    # the lock was compiled for Python 3.11 (Makefile: --python-version 3.11)
    assert "--python-version 3.11" in (ROOT / lock).read_text(encoding="utf-8")[:400]
    assert steps[0].keyword == "FROM"
    assert steps[0].args.startswith("python:3.11-")


@pytest.mark.parametrize("path", DOCKERFILES)
def test_images_run_as_a_non_root_user(path: str) -> None:
    steps = dockerfile(ROOT / path)
    users = [i for i in steps if i.keyword == "USER"]
    assert users, f"{path} has no USER"
    assert users[-1].args not in ("root", "0")
    # the user exists before it is switched to, and nothing after it runs as root
    switch = steps.index(users[-1])
    assert any("useradd" in i.args and users[-1].args in i.args for i in steps[:switch])
    assert all(i.keyword != "RUN" for i in steps[switch:])


def test_secrets_and_local_state_stay_out_of_the_build_context() -> None:
    for path in (".env", ".venv", ".venv-superset", ".exohunter", ".git"):
        assert dockerignored(path), path


# -- settings and secrets -----------------------------------------------------------------------
def test_env_example_lists_exactly_what_the_compose_file_reads() -> None:
    example = env_example()
    required = set(REQUIRED.findall(compose_text()))
    defaulted = dict(DEFAULTED.findall(compose_text()))
    assert set(example) == required | set(defaulted)
    assert len(required) == 6
    for name in required:
        assert example[name] == "", f"{name}: .env.example holds no secret, only its name"
    for name, default in defaulted.items():
        assert example[name] == default, f"{name}: .env.example shows the compose default"


def test_every_interpolation_is_required_or_defaulted() -> None:
    """A bare ${VAR} would start with an empty value instead of refusing to."""
    every = re.findall(r"\$\{([^}]*)\}", compose_text())
    assert every
    assert all(re.fullmatch(r"\w+(:\?.+|:-.*)", item) for item in every), every


def test_env_is_git_ignored() -> None:
    assert ".env" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


# -- the deploy page ---------------------------------------------------------------------------
def deploy_page() -> str:
    """docs/deploy.md, the manual's Deploy page (the README links to it)."""
    page = ROOT / "docs" / "deploy.md"
    assert page.is_file(), "docs/deploy.md is missing"
    text = page.read_text(encoding="utf-8")
    assert re.match(r"# Deploy\n", text), "docs/deploy.md does not start with '# Deploy'"
    return text


def test_readme_links_the_deploy_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/deploy.md)" in readme, "README.md does not link docs/deploy.md"


def test_deploy_page_names_what_the_file_defines() -> None:
    text = deploy_page()
    for name in [*SERVICES, *COMPOSE["volumes"], *env_example()]:
        assert f"`{name}`" in text, f"docs/deploy.md does not mention `{name}`"
    for port in ("8000", "8088"):
        assert port in text
    for command in ("docker compose up", "pg_dump", "Dokploy"):
        assert command in text
