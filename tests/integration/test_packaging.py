"""The distribution: a built wheel holds every subpackage and its data, installs into an empty
virtualenv from the lock file, and its ``exohunter`` command starts."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from scoring import settings

pytestmark = pytest.mark.integration

UV = Path(sys.executable).with_name("uv")
PACKAGE = settings.PROJECT_ROOT / "scoring"


def uv(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(UV), *args], capture_output=True, text=True, timeout=900, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # sdist first, the wheel from the sdist: no stale file of the checkout's build/ can slip in
    uv("build", "--out-dir", str(out), str(settings.PROJECT_ROOT))
    (built,) = out.glob("exohunter-*.whl")
    return built


def test_the_wheel_holds_every_module_and_its_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        str(path.relative_to(settings.PROJECT_ROOT))
        for pattern in ("**/*.py", "warehouse/migrations/*.sql", "web/templates/*.html")
        for path in PACKAGE.glob(pattern)
    }
    assert len([n for n in expected if n.endswith("/__init__.py")]) >= 12  # one per component
    assert expected <= names, sorted(expected - names)
    assert not any(n.startswith(("tests/", "dbt_project/", "data/")) for n in names)


def test_the_wheel_installs_into_an_empty_venv_and_runs(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    uv("venv", "--python", sys.executable, str(venv))
    python = str(venv / "bin" / "python")
    uv(
        "pip",
        "install",
        "--python",
        python,
        "-r",
        str(settings.PROJECT_ROOT / "requirements" / "analytics.lock"),
    )
    uv("pip", "install", "--python", python, "--no-deps", str(wheel))
    result = subprocess.run(
        [str(venv / "bin" / "exohunter"), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # not the checkout: the installed package, not the source tree
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for command in ("run", "ingest", "train", "score", "anomalies", "lightcurves", "dashboards"):
        assert command in result.stdout
    where = subprocess.run(
        [python, "-c", "import scoring.warehouse.migrate as m; print(m.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout
    installed = venv.glob("lib/python*/site-packages/scoring/warehouse/migrations/*.sql")
    assert str(venv) in where
    assert len(list(installed)) == len(list(PACKAGE.glob("warehouse/migrations/*.sql")))
