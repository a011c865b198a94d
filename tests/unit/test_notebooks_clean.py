"""Notebooks are committed without outputs: results belong to the warehouse they ran against,
not to git (the integration test executes them)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from scoring import settings

NOTEBOOKS = sorted((settings.PROJECT_ROOT / "notebooks").glob("*.ipynb"))


def test_there_is_an_eda_notebook() -> None:
    assert settings.PROJECT_ROOT / "notebooks" / "eda.ipynb" in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_valid_and_has_no_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {index} has outputs: clear them before committing"
            assert cell.execution_count is None, f"cell {index} has an execution count"
    assert "widgets" not in notebook.metadata
